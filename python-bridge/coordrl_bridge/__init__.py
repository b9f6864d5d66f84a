"""coordrl_bridge: a thin ZeroMQ/MessagePack server that hosts vectorized Gymnasium/ALE environments.

The server owns no training logic: it creates vector environments on request, steps them with the
actions it is sent and returns observations, raw rewards and episode ends. See PROTOCOL.md.
"""

from coordrl_bridge.protocol import PROTOCOL_VERSION

__version__ = "0.1.0"

__all__ = ["PROTOCOL_VERSION", "__version__"]
