-- Run by the postgres image on its first start (empty data volume) only.
-- The compose profile "devnet" keeps its accounts in a database of their own.
CREATE DATABASE session_gateway_devnet OWNER session_gateway;
