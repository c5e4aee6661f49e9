-- The cache's invalidation, tied to the writes themselves: every insert, update or
-- delete of a table that cached reads come from (store::cache::Cached) bumps its version
-- here, whoever writes it (a service, a CLI command, a hand edit). Readers compare
-- versions instead of trusting each writer to remember to say so.
CREATE TABLE cache_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO cache_versions (name) VALUES ('api_tokens'), ('workspaces'), ('flow_configs'), ('webhook_endpoints');
CREATE FUNCTION attest_cache_bump() RETURNS trigger AS $$
BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = TG_TABLE_NAME;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER api_tokens_cache AFTER INSERT OR UPDATE OR DELETE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION attest_cache_bump();
CREATE TRIGGER workspaces_cache AFTER INSERT OR UPDATE OR DELETE ON workspaces FOR EACH STATEMENT EXECUTE FUNCTION attest_cache_bump();
CREATE TRIGGER flow_configs_cache AFTER INSERT OR UPDATE OR DELETE ON flow_configs FOR EACH STATEMENT EXECUTE FUNCTION attest_cache_bump();
CREATE TRIGGER webhook_endpoints_cache AFTER INSERT OR UPDATE OR DELETE ON webhook_endpoints FOR EACH STATEMENT EXECUTE FUNCTION attest_cache_bump();
