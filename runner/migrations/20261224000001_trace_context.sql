-- The W3C trace context (`traceparent`) of the span that queued the task, when tracing
-- is on (docs/tracing.md): every delivery attempt, in any runner process, is a child of
-- it, so one item keeps one trace across restarts and replicas. NULL while tracing is
-- off. Valid for SQLite and PostgreSQL.
ALTER TABLE tasks ADD COLUMN trace_context TEXT;
