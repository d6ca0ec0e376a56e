"""The RADIUS front-end (issue #15, docs/radius.md): RFC 2865 Access-Requests from NAS clients
over UDP, verified through the same service as the HTTP APIs. Needs the `radius` extra."""
