"""OPC-UA: the ingest connector (``connector.OpcUaConnector``) and the replay simulator
(``simulator.OpcUaSimulator``). Kept import-light: modules load asyncua only when used."""
