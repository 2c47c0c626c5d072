-- The rights a `lem worker` needs on a PostgreSQL run store, and no more.
-- Run as the store's owner (the role that created it with any lem command), in the
-- store's database, after choosing the role name and a password. Workers then connect
-- with postgresql://lem_worker:PASSWORD@HOST/DB, the password from the environment.
--
-- A worker reads run configs, plans and item sets; claims, renews and records items;
-- writes scores and judge-cache rows. It cannot create, alter or drop tables, cannot
-- create runs or datasets, and never executes anything it reads: it reads data only.
CREATE ROLE lem_worker LOGIN PASSWORD 'change-me';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO lem_worker;
GRANT SELECT ON lem_meta, alembic_version, datasets, experiment_stages, bench_items TO lem_worker;
GRANT SELECT, UPDATE ON runs TO lem_worker;
GRANT SELECT, INSERT, UPDATE ON items, run_items, scores, judge_cache TO lem_worker;
