"""usagekit: analytics for Genesys Cloud API usage.

The package follows the data flow, one module per stage::

    query -> fetch -> frame -> dataset -> engine -> analyses -> charts -> report

Each stage may import the stages before it, never those after it. ``config``
(with ``stack``, which reads a CloudFormation stack's outputs) and ``exceptions`` sit
below every stage; ``sandbox`` stands beside the flow (a local
stand-in for Genesys Cloud, reached over HTTP only).
"""

from __future__ import annotations

__version__ = "0.1.0"
