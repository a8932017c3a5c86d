"""The edge of sagebox: AWS wire protocols, authentication, errors to HTTP.

No business logic lives here; every request becomes one control-plane call
with the shapes of botocore's service models.
"""
