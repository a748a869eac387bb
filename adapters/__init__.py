"""Edges of the system that speak OPC UA: the adapters that mirror PLCs, and the simulated PLCs."""
