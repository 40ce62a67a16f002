"""Console users in the ``users`` table (implements console.services.users.UserStore)."""

from __future__ import annotations

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from console.services.users import UserError, UserRecord
from console.store.schema import users
from core.access import Role


class SqlUserStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, name: str) -> UserRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            return None
        return UserRecord(row.name, Role.parse(row.role), row.password_hash, row.failed_logins,
                          None if row.last_failed_us is None else row.last_failed_us / 1_000_000, bool(row.locked))

    def create(self, name: str, role: Role, password_hash: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(name=name, role=role.value, password_hash=password_hash))
        except IntegrityError:
            raise UserError(f"a user named {name!r} exists already; choose another name") from None

    def set_password(self, name: str, password_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == name).values(password_hash=password_hash))

    def set_login_state(self, name: str, failed_logins: int, last_failed: float | None, locked: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == name).values(
                failed_logins=failed_logins, locked=int(locked),
                last_failed_us=None if last_failed is None else round(last_failed * 1_000_000)))

    def has_admin(self) -> bool:
        with self.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(users).where(users.c.role == Role.ADMIN.value))
            return bool(n.scalar_one())

    def all(self) -> list[UserRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
        return [UserRecord(r.name, Role.parse(r.role), r.password_hash, r.failed_logins,
                           None if r.last_failed_us is None else r.last_failed_us / 1_000_000, bool(r.locked))
                for r in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())
