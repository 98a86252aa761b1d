"""The org table: people (id, name, role, manager id, team, login), read from CSV and checked."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .messages import BadInput, msg

ROLE_WORDS = {"employee": "employee", "员工": "employee", "manager": "manager", "经理": "manager", "主管": "manager",
              "hr": "hr", "HR": "hr", "人事": "hr", "executive": "executive", "高管": "executive"}
COLUMNS = {"id": ("id", "工号"), "name": ("name", "姓名"), "role": ("role", "角色"),
           "manager_id": ("manager_id", "manager", "上级", "上级工号"), "team": ("team", "小组", "部门"),
           "login": ("login", "登录名", "账号")}


@dataclass(frozen=True)
class Person:
    """Someone in the org table: their role decides what they may do."""

    id: str
    name: str
    role: str  # employee | manager | hr | executive
    manager_id: str | None
    team: str
    login: str | None = None

    def label(self) -> str:
        return f"{self.id} {self.name}"


def read_org(path: str | Path) -> list[Person]:
    """Read and check an org table: every problem named by row and column; BadInput when any."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(msg("{p}: no such file (the org table: id, name, role, manager_id, team, login)", p=path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(msg("{p}: cannot read the org table ({e})", p=path, e=e)) from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    where = {}
    for name, aliases in COLUMNS.items():
        found = next((h for h in header if h and h.strip() in aliases), None)
        if found is None and name not in ("login", "manager_id"):
            raise BadInput(msg("{p}: the org table has no column '{c}' (it needs id, name, role, manager_id, team; login is optional)", p=path, c=name))
        where[name] = found
    people: list[Person] = []
    problems: list = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        def cell(name: str) -> str:
            column = where[name]
            return (row.get(column) or "").strip() if column else ""

        pid, role_word = cell("id"), cell("role")
        if not pid:
            problems.append(msg("{p}: row {n}: the id is empty", p=path, n=number))
            continue
        if pid in seen:
            problems.append(msg("{p}: row {n}: {id} is already on row {m}",
                                p=path, n=number, id=pid, m=seen[pid]))
            continue
        seen[pid] = number
        role = ROLE_WORDS.get(role_word, ROLE_WORDS.get(role_word.lower()))
        if role is None:
            problems.append(msg("{p}: row {n}, column role: '{r}' is not a role (employee, manager, hr, executive)",
                                p=path, n=number, r=role_word))
            continue
        people.append(Person(pid, cell("name") or pid, role, cell("manager_id") or None, cell("team"), cell("login") or None))
    ids = {p.id: p for p in people}
    logins: dict[str, str] = {}
    for person in people:
        if person.manager_id and person.manager_id not in ids and person.manager_id not in seen:
            problems.append(msg("{p}: row {n}: {id}'s manager {m} is not in the org table", p=path, n=seen[person.id], id=person.id, m=person.manager_id))
        if person.login:
            if person.login in logins:
                problems.append(msg("{p}: row {n}: the login {l} is also {other}'s", p=path, n=seen[person.id], l=person.login, other=logins[person.login]))
            logins[person.login] = person.id
    for person in people:  # a cycle in the manager chain: nobody would be at the top
        chain, current = [person.id], person
        while current.manager_id and current.manager_id in ids:
            current = ids[current.manager_id]
            if current.id in chain:
                loop = chain[chain.index(current.id):] + [current.id]
                problems.append(msg("{p}: row {n}: the manager chain goes round in a circle: {c}", p=path, n=seen[person.id], c=" → ".join(loop)))
                break
            chain.append(current.id)
        if problems and problems[-1].en.endswith(" → ".join(chain[:1])):
            break
    if problems:
        raise OrgError(problems)
    if not people:
        raise BadInput(msg("{p}: the org table has nobody in it", p=path))
    return people


class OrgError(BadInput):
    """Every problem of an org table at once."""

    def __init__(self, problems: list):
        from .messages import joined

        super().__init__(joined("\n", problems))
        self.problems = problems
