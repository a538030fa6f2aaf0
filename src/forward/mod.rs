//! Forwarding verified deliveries downstream. [`jetstream`] publishes them into NATS JetStream,
//! so that any number of receivers (`sfhooks listen` replicas, `sfhooks poll`) feed one durable
//! stream that dedupes by id. Needs tokio: used by the CLI's commands only, not part of the
//! I/O-free receiver library (`webhook`).
pub mod jetstream;
