"""The synthetic bank and its call centre: a data source that writes contract tables and
`_truth/`, read by the rest of Retain only through those files."""
