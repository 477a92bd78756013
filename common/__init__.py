"""The ground floor: configuration, errors, console and the names every stage shares.
Imports no stage package."""
