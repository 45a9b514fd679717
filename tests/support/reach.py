"""Which AWS calls a function's code can make, read from the source rather than from a list kept by hand.

From the handler module (functions/<name>/app.py) the call graph is followed through the wa_conversions
package: names through imports, `self.x` to the class and its relatives, `super().x` to the bases, and
any other `obj.x` to every method named x in a module the handler can import. That over-approximates a
little; the one call it can miss is through an untyped local whose method is named like a dict's, list's
or str's (`get`, `update`...), which is taken for the builtin's. The code is typed (mypy strict), so a
collaborator is a typed parameter or `self._x`, and those are followed.

What is collected on the way:
- DynamoDB operations, each with the table it names (TableName=self._table resolved through the
  constructor calls: an argument naming the idempotency table makes it that table) and whether an index
  is queried;
- the secrets read through wa_conversions.secret_store (get_secret / get_optional_secret);
- the SQS and EventBridge actions of the client calls (send_message, put_events...).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = ROOT / "layers" / "core"
FUNCTIONS_ROOT = ROOT / "functions"
PACKAGE = "wa_conversions"

TABLE = "Table"
IDEMPOTENCY_TABLE = "IdempotencyTable"

# boto3 DynamoDB client method -> the IAM action it needs (transactions are checked per item instead).
DYNAMODB_ACTIONS = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_get_item": "dynamodb:BatchGetItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "describe_table": "dynamodb:DescribeTable",
}
# TransactWriteItems / TransactGetItems are authorised item by item (IAM has no action for them).
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
# SQS and EventBridge client methods -> IAM action (a batch call is authorised by the single action).
MESSAGING_ACTIONS = {
    "send_message": "sqs:SendMessage",
    "send_message_batch": "sqs:SendMessage",
    "change_message_visibility": "sqs:ChangeMessageVisibility",
    "change_message_visibility_batch": "sqs:ChangeMessageVisibility",
    "delete_message": "sqs:DeleteMessage",
    "delete_message_batch": "sqs:DeleteMessage",
    "receive_message": "sqs:ReceiveMessage",
    "purge_queue": "sqs:PurgeQueue",
    "put_events": "events:PutEvents",
}
SECRET_READERS = frozenset({"get_secret", "get_optional_secret"})
# Readers of secrets named at run time, each under one path per destination, the literal its call names
# (wa_conversions.tenants.tenant_secret(settings, name, "wax"): tenants/<folder>/wax-<name>).
PATH_SECRET_READERS = {"tenant_secret": "tenants/*/{}-*"}
# store.dynamo's batch helpers, called with the table as their second argument: each call is the
# action on that table; the helpers' own client call names no table, so it is not read.
BATCH_HELPERS = {"batch_write": "dynamodb:BatchWriteItem", "batch_get": "dynamodb:BatchGetItem"}
BATCH_HELPER_MODULE = f"{PACKAGE}.store.dynamo"

# Methods of dict, list, set and str: a call on an untyped receiver is taken for the builtin's.
_BUILTIN_METHODS = frozenset(
    {"get", "items", "keys", "values", "pop", "update", "append", "extend", "copy", "setdefault",
     "add", "discard", "remove", "clear", "index", "count", "split", "strip", "lower", "upper",
     "startswith", "endswith", "join", "format", "replace", "encode", "decode", "sort", "insert"}
)  # fmt: skip


@dataclass(eq=False)
class Function:
    qualname: str
    module: Module
    node: ast.FunctionDef | ast.AsyncFunctionDef
    owner: Class | None = None


@dataclass(eq=False)
class Class:
    qualname: str
    module: Module
    node: ast.ClassDef
    methods: dict[str, Function] = field(default_factory=dict)
    bases: list[Class] = field(default_factory=list)
    subclasses: list[Class] = field(default_factory=list)

    def lineage(self) -> Iterator[Class]:
        """The class, its bases and its subclasses: where `self.x` may land."""
        seen: set[str] = set()
        stack = [self]
        while stack:
            current = stack.pop()
            if current.qualname in seen:
                continue
            seen.add(current.qualname)
            yield current
            stack.extend(current.bases)
            stack.extend(current.subclasses)

    def ancestry(self) -> Iterator[Class]:
        yield self
        for base in self.bases:
            yield from base.ancestry()


@dataclass(eq=False)
class Module:
    name: str
    path: Path
    tree: ast.Module
    package: str
    imports: dict[str, str] = field(default_factory=dict)
    # what its import runs: the imports outside any function (a function's own run when it is called)
    eager: list[str] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)
    classes: dict[str, Class] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DynamoCall:
    action: str
    table: str
    index: bool
    where: str


@dataclass
class Reach:
    """What one function's code can do."""

    dynamodb: set[DynamoCall] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    messaging: set[str] = field(default_factory=set)

    def grants(self) -> set[tuple[str, str]]:
        """(resource, action) pairs; resource is a table's logical id, or "<table>/index" for a query on
        one of its indexes."""
        pairs: set[tuple[str, str]] = set()
        for call in self.dynamodb:
            pairs.add((f"{call.table}/index" if call.index else call.table, call.action))
        return pairs


class Codebase:
    def __init__(self, package_root: Path = PACKAGE_ROOT, functions_root: Path = FUNCTIONS_ROOT) -> None:
        self.modules: dict[str, Module] = {}
        for path in sorted((package_root / PACKAGE).rglob("*.py")):
            parts = path.relative_to(package_root).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            self._add(name, path, name if is_package else name.rpartition(".")[0])
        for path in sorted(functions_root.glob("*/app.py")):
            self._add(f"functions.{path.parent.name}.app", path, f"functions.{path.parent.name}")
        for module in self.modules.values():
            for klass in module.classes.values():
                for base in klass.node.bases:
                    resolved = self.resolve_expr(module, base)
                    if isinstance(resolved, Class):
                        klass.bases.append(resolved)
                        resolved.subclasses.append(klass)
        self._constructions = self._find_constructions()

    # -- loading ----------------------------------------------------------------------------------

    def _add(self, name: str, path: Path, package: str) -> None:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module = Module(name, path, tree, package)
        # imports that do not run with the module's: a function's, and those only type checkers read
        lazy = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.FunctionDef | ast.AsyncFunctionDef)
            or (
                isinstance(block, ast.If)
                and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
            )
            for node in ast.walk(block)
        }
        for node in ast.walk(tree):
            imported = self._imported(module, node)
            module.imports.update(imported)
            if id(node) not in lazy:
                module.eager.extend(imported.values())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                module.functions[node.name] = Function(f"{name}.{node.name}", module, node)
            elif isinstance(node, ast.ClassDef):
                klass = Class(f"{name}.{node.name}", module, node)
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        klass.methods[item.name] = Function(
                            f"{klass.qualname}.{item.name}", module, item, klass
                        )
                module.classes[node.name] = klass
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    for target in targets:
                        if isinstance(target, ast.Name):
                            module.constants[target.id] = value.value
        self.modules[name] = module

    def _imported(self, module: Module, node: ast.AST) -> dict[str, str]:
        """The names an import statement binds, each to the qualified name it stands for."""
        if isinstance(node, ast.Import):
            return {
                alias.asname or alias.name.partition(".")[0]: alias.name
                if alias.asname
                else alias.name.partition(".")[0]
                for alias in node.names
            }
        if isinstance(node, ast.ImportFrom):
            base = self._absolute(module, node.module, node.level)
            return {
                alias.asname or alias.name: f"{base}.{alias.name}" if base else alias.name
                for alias in node.names
            }
        return {}

    @staticmethod
    def _absolute(module: Module, name: str | None, level: int) -> str:
        if level == 0:
            return name or ""
        parts = module.package.split(".")
        base = ".".join(parts[: len(parts) - (level - 1)])
        return f"{base}.{name}" if name else base

    # -- name resolution --------------------------------------------------------------------------

    def resolve_qualified(self, qualified: str, depth: int = 0) -> Module | Function | Class | str | None:
        if depth > 20:
            return None
        if qualified in self.modules:
            return self.modules[qualified]
        parent, _, name = qualified.rpartition(".")
        if not parent:
            return None
        owner = self.resolve_qualified(parent, depth + 1)
        if isinstance(owner, Module):
            return self.resolve_name(owner, name, depth + 1)
        if isinstance(owner, Class):
            for klass in owner.ancestry():
                if name in klass.methods:
                    return klass.methods[name]
        return None

    def resolve_name(
        self, module: Module, name: str, depth: int = 0
    ) -> Module | Function | Class | str | None:
        if name in module.functions:
            return module.functions[name]
        if name in module.classes:
            return module.classes[name]
        if name in module.constants:
            return module.constants[name]
        if name in module.imports:
            return self.resolve_qualified(module.imports[name], depth + 1)
        return None

    def resolve_expr(self, module: Module, node: ast.expr) -> Module | Function | Class | str | None:
        if isinstance(node, ast.Name):
            return self.resolve_name(module, node.id)
        if isinstance(node, ast.Attribute):
            owner = self.resolve_expr(module, node.value)
            if isinstance(owner, Module):
                return self.resolve_name(owner, node.attr)
        return None

    # -- tables -----------------------------------------------------------------------------------

    def _find_constructions(self) -> dict[str, list[tuple[Module, ast.Call]]]:
        found: dict[str, list[tuple[Module, ast.Call]]] = {}
        for module in self.modules.values():
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call):
                    target = self.resolve_expr(module, node.func)
                    if isinstance(target, Class):
                        found.setdefault(target.qualname, []).append((module, node))
        return found

    @staticmethod
    def _init_params(klass: Class) -> list[str]:
        init = klass.methods.get("__init__")
        if init is None:
            return []
        return [arg.arg for arg in init.node.args.args[1:]] + [arg.arg for arg in init.node.args.kwonlyargs]

    def _attribute_param(self, klass: Class, attribute: str) -> tuple[Class, str] | None:
        """The constructor parameter `self.<attribute>` is set from, and the class whose it is."""
        for owner in klass.ancestry():
            init = owner.methods.get("__init__")
            if init is None:
                continue
            for node in ast.walk(init.node):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Attribute)
                    and isinstance(node.targets[0].value, ast.Name)
                    and node.targets[0].value.id == "self"
                    and node.targets[0].attr == attribute
                    and isinstance(node.value, ast.Name)
                ):
                    return owner, node.value.id
        return None

    def _argument_texts(self, klass: Class, param: str) -> list[str]:
        """Source text of what every construction of the class (or of a subclass) passes as `param`."""
        texts: list[str] = []
        for candidate in klass.lineage():
            if klass not in list(candidate.ancestry()):
                continue
            params = self._init_params(candidate)
            forwarded = param
            if candidate is not klass:
                # A subclass passes its own parameter on through super().__init__(...).
                forwarded = self._forwarded_param(candidate, klass, param) or ""
            for _, call in self._constructions.get(candidate.qualname, []):
                for index, argument in enumerate(call.args):
                    if index < len(params) and params[index] == forwarded:
                        texts.append(ast.unparse(argument))
                for keyword in call.keywords:
                    if keyword.arg == forwarded:
                        texts.append(ast.unparse(keyword.value))
        return texts

    def _forwarded_param(self, subclass: Class, base: Class, param: str) -> str | None:
        init = subclass.methods.get("__init__")
        base_params = self._init_params(base)
        if init is None:
            return param
        for node in ast.walk(init.node):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "__init__"
                and isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "super"
            ):
                for index, argument in enumerate(node.args):
                    if (
                        index < len(base_params)
                        and base_params[index] == param
                        and isinstance(argument, ast.Name)
                    ):
                        return argument.id
        return None

    def table_of(self, function: Function, expression: ast.expr) -> set[str]:
        if not (
            function.owner is not None
            and isinstance(expression, ast.Attribute)
            and isinstance(expression.value, ast.Name)
            and expression.value.id == "self"
        ):
            raise AssertionError(f"{function.qualname}: cannot tell which table {ast.unparse(expression)} is")
        source = self._attribute_param(function.owner, expression.attr)
        if source is None:
            raise AssertionError(f"{function.qualname}: self.{expression.attr} is not set from a parameter")
        owner, param = source
        tables: set[str] = set()
        for text in self._argument_texts(owner, param):
            lowered = text.lower()
            if "idempotency" in lowered:
                tables.add(IDEMPOTENCY_TABLE)
            elif "table" in lowered:
                tables.add(TABLE)
        if not tables:
            raise AssertionError(f"{owner.qualname}: no construction tells which table {param} names")
        return tables

    # -- reach ------------------------------------------------------------------------------------

    def _module_of(self, qualified: str) -> str | None:
        parts = qualified.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return candidate
        return None

    def closure(self, roots: set[str]) -> set[str]:
        """The package modules importing `roots` loads, directly or not; a lazy import (inside a
        function) counts once that function is reached (reach)."""
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            name = stack.pop()
            if name in seen or name not in self.modules:
                continue
            seen.add(name)
            current = self.modules[name]
            for qualified in current.eager:
                candidate = self._module_of(qualified)
                if candidate is not None:
                    stack.append(candidate)
            # A package's __init__ runs before any of its modules.
            parts = name.split(".")
            for end in range(1, len(parts)):
                stack.append(".".join(parts[:end]))
        return seen

    def reach(self, function_dir: str) -> Reach:
        handler = self.modules[f"functions.{function_dir}.app"]
        roots = {handler.name}
        while True:  # until the functions reached import no module not yet loaded
            closure = self.closure(roots)
            walk, visited = self._walk(handler, closure)
            for function in visited:
                for node in ast.walk(function.node):
                    for qualified in self._imported(function.module, node).values():
                        candidate = self._module_of(qualified)
                        if candidate is not None:
                            roots.add(candidate)
            if self.closure(roots) == closure:
                break
        # A query helper that takes its arguments as **kwargs reads an index when a caller names one.
        for helper, table, where in walk.open_queries:
            for with_index in walk.call_sites.get(helper, set()):
                walk.result.dynamodb.add(DynamoCall("dynamodb:Query", table, with_index, where))
        return walk.result

    def _walk(self, handler: Module, closure: set[str]) -> tuple[_Walk, list[Function]]:
        by_method: dict[str, list[Function]] = {}
        for name in closure:
            for klass in self.modules[name].classes.values():
                for method_name, method in klass.methods.items():
                    by_method.setdefault(method_name, []).append(method)
        walk = _Walk(by_method)
        visited: dict[str, Function] = {}
        queue: list[Function] = list(handler.functions.values())
        # The handler module's own top-level statements run at import.
        top = ast.Module(
            body=[n for n in handler.tree.body if not isinstance(n, ast.FunctionDef)], type_ignores=[]
        )
        queue.extend(self._targets(handler, None, top, walk))
        while queue:
            function = queue.pop()
            if function.qualname in visited:
                continue
            visited[function.qualname] = function
            queue.extend(self._targets(function.module, function, function.node, walk))
        return walk, list(visited.values())

    def _targets(
        self, module: Module, function: Function | None, body: ast.AST, walk: _Walk
    ) -> list[Function]:
        found: list[Function] = []
        typed = _typed_names(body)
        for node in ast.walk(body):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                found.extend(self._callables(self.resolve_name(module, node.id)))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                found.extend(self._attribute_targets(module, function, node, walk.by_method, typed))
            if isinstance(node, ast.Call):
                name = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                )
                if name:
                    walk.call_sites.setdefault(name, set()).add(
                        any(k.arg == "IndexName" for k in node.keywords)
                    )
                if function is not None:
                    self._record_call(module, function, node, walk)
        return found

    def _callables(self, target: Module | Function | Class | str | None) -> list[Function]:
        if isinstance(target, Function):
            return [target]
        if isinstance(target, Class):
            return [
                method
                for klass in target.ancestry()
                for name, method in klass.methods.items()
                if name in ("__init__", "__post_init__", "__call__")
            ]
        return []

    def _attribute_targets(
        self,
        module: Module,
        function: Function | None,
        node: ast.Attribute,
        by_method: dict[str, list[Function]],
        typed: set[str],
    ) -> list[Function]:
        owner = self.resolve_expr(module, node.value)
        if isinstance(owner, Module):
            return self._callables(self.resolve_name(owner, node.attr))
        if isinstance(owner, Class):
            return [k.methods[node.attr] for k in owner.lineage() if node.attr in k.methods]
        value = node.value
        in_method = function is not None and function.owner is not None
        if in_method and isinstance(value, ast.Name) and value.id in ("self", "cls"):
            assert function is not None and function.owner is not None
            return [k.methods[node.attr] for k in function.owner.lineage() if node.attr in k.methods]
        if (
            in_method
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "super"
        ):
            assert function is not None and function.owner is not None
            return [
                k.methods[node.attr]
                for base in function.owner.bases
                for k in base.ancestry()
                if node.attr in k.methods
            ]
        if node.attr in _BUILTIN_METHODS and not _receiver_is_typed(value, typed):
            return []
        return by_method.get(node.attr, [])

    def _record_call(self, module: Module, function: Function, call: ast.Call, walk: _Walk) -> None:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in SECRET_READERS:
            self._record_secret(module, function, call, walk.result)
            return
        if name in PATH_SECRET_READERS and function.qualname.split(".")[-1] != name:
            destination = call.args[2] if len(call.args) > 2 else None
            destination = next((k.value for k in call.keywords if k.arg == "destination"), destination)
            if not (isinstance(destination, ast.Constant) and isinstance(destination.value, str)):
                raise AssertionError(
                    f"{function.qualname}: {ast.unparse(call)} names no destination literally"
                )
            walk.result.secrets.add(PATH_SECRET_READERS[name].format(destination.value))
        if name in BATCH_HELPERS and function.qualname.rpartition(".")[0] != BATCH_HELPER_MODULE:
            table = call.args[1] if len(call.args) > 1 else None
            table = next((k.value for k in call.keywords if k.arg == "table"), table)
            if table is None:
                raise AssertionError(f"{function.qualname}:{call.lineno}: {name} names no table")
            for found in self.table_of(function, table):
                walk.result.dynamodb.add(
                    DynamoCall(BATCH_HELPERS[name], found, False, f"{function.qualname}:{call.lineno}")
                )
            return
        if not isinstance(func, ast.Attribute):
            return
        if (
            function.qualname.rpartition(".")[0] == BATCH_HELPER_MODULE
            and function.node.name in BATCH_HELPERS
        ):
            return
        operation = name
        if operation == "get_paginator" and call.args and isinstance(call.args[0], ast.Constant):
            operation = str(call.args[0].value)
        where = f"{function.qualname}:{call.lineno}"
        result = walk.result
        if operation in ("transact_write_items", "transact_get_items"):
            for action, expression in _transact_items(function.node):
                for table in self.table_of(function, expression):
                    result.dynamodb.add(DynamoCall(action, table, False, where))
            return
        if operation in MESSAGING_ACTIONS:
            result.messaging.add(MESSAGING_ACTIONS[operation])
            return
        if operation not in DYNAMODB_ACTIONS:
            return
        if operation.startswith("batch_"):
            # RequestItems is keyed by table name.
            expressions = _request_item_tables(function.node)
        else:
            expressions = [k.value for k in call.keywords if k.arg == "TableName"] or _table_names(
                function.node
            )
        if not expressions:
            raise AssertionError(f"{where}: {operation} names no table the analysis can see")
        action = DYNAMODB_ACTIONS[operation]
        for expression in expressions:
            for table in self.table_of(function, expression):
                if operation == "query" and function.node.args.kwarg is not None:
                    walk.open_queries.append((function.node.name, table, where))
                else:
                    index = operation == "query" and _mentions_index(function, call)
                    result.dynamodb.add(DynamoCall(action, table, index, where))

    def _record_secret(self, module: Module, function: Function, call: ast.Call, result: Reach) -> None:
        key = call.args[1] if len(call.args) > 1 else None
        value = None
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            value = key.value
        elif isinstance(key, ast.JoinedStr):
            # f"shopify/{shop}/admin-token": one secret per value, granted as shopify/*/admin-token
            value = "".join(str(part.value) if isinstance(part, ast.Constant) else "*" for part in key.values)
        elif isinstance(key, ast.Name):
            resolved = self.resolve_name(module, key.id)
            if isinstance(resolved, str):
                value = resolved
            elif key.id in {arg.arg for arg in function.node.args.args}:
                return  # a key passed through (get_optional_secret): its callers name it
        if value is None:
            raise AssertionError(f"{function.qualname}: cannot tell which secret {ast.unparse(call)} reads")
        result.secrets.add(value.lower().replace("_", "-"))


@dataclass
class _Walk:
    by_method: dict[str, list[Function]]
    result: Reach = field(default_factory=Reach)
    open_queries: list[tuple[str, str, str]] = field(default_factory=list)
    call_sites: dict[str, set[bool]] = field(default_factory=dict)


def _typed_names(body: ast.AST) -> set[str]:
    """Local names bound with a non-builtin annotation (parameters included)."""
    names: set[str] = set()
    for node in ast.walk(body):
        if isinstance(node, ast.arg) and node.annotation is not None:
            text = ast.unparse(node.annotation)
            if not text.startswith(("dict", "list", "set", "str", "Mapping", "Any", "tuple")):
                names.add(node.arg)
    return names


def _receiver_is_typed(value: ast.expr, typed: set[str]) -> bool:
    if isinstance(value, ast.Name):
        return value.id in typed
    # self._log.get(...): attributes of self hold collaborators, not containers.
    return (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id == "self"
        and not value.attr.endswith(("s", "_map", "_cache"))
    )


def _table_names(node: ast.AST) -> list[ast.expr]:
    """Every TableName given in the function, as a keyword or a dict key."""
    found: list[ast.expr] = []
    for child in ast.walk(node):
        if isinstance(child, ast.keyword) and child.arg == "TableName":
            found.append(child.value)
        elif isinstance(child, ast.Dict):
            for key, value in zip(child.keys, child.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "TableName":
                    found.append(value)
    return found


def _transact_items(node: ast.AST) -> list[tuple[str, ast.expr]]:
    """(IAM action, TableName expression) of each {"Put": {...}}-style item the function builds."""
    assigned: dict[str, ast.Dict] = {}
    for child in ast.walk(node):
        if isinstance(child, ast.Assign | ast.AnnAssign) and isinstance(child.value, ast.Dict):
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    assigned[target.id] = child.value
    items: list[tuple[str, ast.expr]] = []
    for child in ast.walk(node):
        if not isinstance(child, ast.Dict):
            continue
        for key, value in zip(child.keys, child.values, strict=True):
            if not (isinstance(key, ast.Constant) and key.value in TRANSACT_ITEM_ACTIONS):
                continue
            body = assigned.get(value.id) if isinstance(value, ast.Name) else value
            if not isinstance(body, ast.Dict):
                raise AssertionError(f"cannot read the transaction item {ast.unparse(value)}")
            tables = _table_names(body)
            if not tables:
                raise AssertionError(f"the transaction item {ast.unparse(value)} names no table")
            items.extend((TRANSACT_ITEM_ACTIONS[str(key.value)], table) for table in tables)
    return items


def _mentions_index(function: Function, call: ast.Call) -> bool:
    if any(k.arg == "IndexName" for k in call.keywords):
        return True
    for child in ast.walk(function.node):
        if isinstance(child, ast.keyword) and child.arg == "IndexName":
            return True
        if isinstance(child, ast.Dict) and any(
            isinstance(key, ast.Constant) and key.value == "IndexName" for key in child.keys
        ):
            return True
    return False


def _request_item_tables(node: ast.AST) -> list[ast.expr]:
    """The self.<attribute> keys of the dicts a batch call's RequestItems are built from."""
    found: list[ast.expr] = []
    for child in ast.walk(node):
        if isinstance(child, ast.Dict):
            for key in child.keys:
                if (
                    isinstance(key, ast.Attribute)
                    and isinstance(key.value, ast.Name)
                    and key.value.id == "self"
                ):
                    found.append(key)
    return found


@cache
def codebase() -> Codebase:
    return Codebase()
