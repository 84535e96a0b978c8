"""Alembic environment: the server passes its open connection in ``config.attributes``."""

from alembic import context

from server.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # the alembic command line: sqlalchemy.url from the ini file
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("alembic: set sqlalchemy.url in the ini file")
    engine = create_engine(url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
