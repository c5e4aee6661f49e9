-- The cache's invalidation, tied to the writes themselves: every insert, update or
-- delete of a table that cached reads come from (store::cache::Cached) bumps its version
-- here, whoever writes it (a service, a CLI command, a hand edit). Readers compare
-- versions instead of trusting each writer to remember to say so.
CREATE TABLE cache_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO cache_versions (name) VALUES ('api_tokens'), ('workspaces'), ('flow_configs'), ('webhook_endpoints');
CREATE TRIGGER api_tokens_cache_insert AFTER INSERT ON api_tokens BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'api_tokens'; END;
CREATE TRIGGER api_tokens_cache_update AFTER UPDATE ON api_tokens BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'api_tokens'; END;
CREATE TRIGGER api_tokens_cache_delete AFTER DELETE ON api_tokens BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'api_tokens'; END;
CREATE TRIGGER workspaces_cache_insert AFTER INSERT ON workspaces BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'workspaces'; END;
CREATE TRIGGER workspaces_cache_update AFTER UPDATE ON workspaces BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'workspaces'; END;
CREATE TRIGGER workspaces_cache_delete AFTER DELETE ON workspaces BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'workspaces'; END;
CREATE TRIGGER flow_configs_cache_insert AFTER INSERT ON flow_configs BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'flow_configs'; END;
CREATE TRIGGER flow_configs_cache_update AFTER UPDATE ON flow_configs BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'flow_configs'; END;
CREATE TRIGGER flow_configs_cache_delete AFTER DELETE ON flow_configs BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'flow_configs'; END;
CREATE TRIGGER webhook_endpoints_cache_insert AFTER INSERT ON webhook_endpoints BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'webhook_endpoints'; END;
CREATE TRIGGER webhook_endpoints_cache_update AFTER UPDATE ON webhook_endpoints BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'webhook_endpoints'; END;
CREATE TRIGGER webhook_endpoints_cache_delete AFTER DELETE ON webhook_endpoints BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'webhook_endpoints'; END;
