"""What the tests run besides the product: PLC servers (fault suite, python-opcua) and the wait helper."""
