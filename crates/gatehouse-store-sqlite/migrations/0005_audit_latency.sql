-- How long a gateway decision took to answer, in microseconds.
ALTER TABLE audit_events ADD COLUMN latency_us INTEGER;
