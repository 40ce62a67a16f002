"""OPC-UA client side: subscriptions, quality mapping, reconnect."""

from drivers.opcua.hub import OpcUaHub

__all__ = ["OpcUaHub"]
