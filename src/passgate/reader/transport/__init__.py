"""Ways a device reaches the agent: emulated (in process or over a local socket), PC/SC
readers (pyscard) and nfcpy devices. The hardware libraries are optional and imported
only when their transport is used."""
