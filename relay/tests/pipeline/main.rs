//! The event pipeline against real things: real stores (SQLite file, Postgres database per
//! test), real outbox rows written by the real runtime, and a broker speaking the Kafka
//! protocol over TCP (librdkafka's mock cluster with several brokers).

mod harness;

mod batches;
mod consumers;
mod embedded;
mod relay_kafka;
mod smtp;
