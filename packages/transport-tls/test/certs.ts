// The certificate helpers are shared by every TLS-capable transport's tests.
export * from '@libswarm/transport-compliance/certs'
