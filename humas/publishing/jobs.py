"""Background work of the publishing app: the delivery drain (see ``delivery.py``)."""

from humas.publishing import delivery  # noqa: F401  (registers publishing.deliver)
