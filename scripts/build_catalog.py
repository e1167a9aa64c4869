"""Generate ``src/zdrgate/catalog/data/catalog.json`` from the shared public data.

Usage (from the repository root)::

    .venv/bin/python scripts/build_catalog.py [DATA_DIR]            # write the catalog
    .venv/bin/python scripts/build_catalog.py [DATA_DIR] --suggest  # print mapping candidates

DATA_DIR defaults to ``../shared/data``. Inputs:

* ``DATA_DIR/provider-policies.yaml`` - the providers' retention policies;
* ``DATA_DIR/openrouter-models-2026-08.json`` - public model ids and OpenRouter endpoints;
* ``DATA_DIR/models-dev/`` - per-provider model ids, prices, limits, modalities;
* ``scripts/catalog_data/*.yaml`` - the reviewed mapping and provider facts (the truth
  where the heuristics of ``--suggest`` would guess).

The output is deterministic: sorted keys and lists, no run timestamp, so re-running on
the same inputs gives the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
REVIEWED = REPO / "scripts" / "catalog_data"
OUTPUT = REPO / "src" / "zdrgate" / "catalog" / "data" / "catalog.json"
OPENROUTER_FILE = "openrouter-models-2026-08.json"
SCHEMA_VERSION = 1

# Bedrock cross-region inference profiles carry their geography as an id prefix.
BEDROCK_PROFILE = re.compile(r"^(us|eu|au|jp|apac|global)\.")
_MONTHS = "January February March April May June July August September October November December"
MONTH_DATE = re.compile(rf"({'|'.join(_MONTHS.split())}) (\d{{1,2}}), (\d{{4}})")
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# Trailing parts that make two ids "the same model" for the near-duplicate rule.
DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{2}-\d{2}|\d{2}-\d{4}|\d{4})$")


Json = dict[str, Any]


# ---------------------------------------------------------------- reading inputs


@dataclass(frozen=True)
class Sources:
    policies: dict[str, Json]  # provider-policies.yaml entries by id
    openrouter: dict[str, Json]  # OpenRouter models by id
    models_dev: dict[str, dict[str, Json]]  # models-dev dir -> upstream id -> resolved facts


@dataclass(frozen=True)
class Reviewed:
    providers: Json
    model_map: Json
    extra: Json


def load_sources(data_dir: Path) -> Sources:
    raw_policies = yaml.safe_load((data_dir / "provider-policies.yaml").read_text())
    policies = {entry["id"]: entry for entry in raw_policies["providers"]}
    raw_or = json.loads((data_dir / OPENROUTER_FILE).read_text())
    openrouter = {item["id"]: item for item in raw_or["data"]}
    return Sources(policies, openrouter, load_models_dev(data_dir / "models-dev"))


def load_models_dev(root: Path) -> dict[str, dict[str, Json]]:
    bases = {
        str(path.relative_to(root / "models").with_suffix("")): read_toml(path)
        for path in (root / "models").rglob("*.toml")
    }
    out: dict[str, dict[str, Json]] = {}
    for provider_dir in sorted((root / "providers").iterdir()):
        models_dir = provider_dir / "models"
        out[provider_dir.name] = {
            str(path.relative_to(models_dir).with_suffix("")): resolve_base(read_toml(path), bases)
            for path in sorted(models_dir.rglob("*.toml"))
        }
    return out


def read_toml(path: Path) -> Json:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def resolve_base(facts: Json, bases: dict[str, Json]) -> Json:
    """A provider file overrides the provider-agnostic ``models/`` file it points to."""
    base_id = facts.get("base_model")
    if not base_id:
        return facts
    base = json.loads(json.dumps(bases[base_id]))  # deep copy
    for dotted in facts.get("base_model_omit", ()):
        drop_dotted(base, dotted.split("."))
    return deep_merge(base, facts)


def drop_dotted(data: Json, path: list[str]) -> None:
    for key in path[:-1]:
        data = data.get(key, {})
    data.pop(path[-1], None)


def deep_merge(base: Json, over: Json) -> Json:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_reviewed() -> Reviewed:
    def read(name: str) -> Json:
        return yaml.safe_load((REVIEWED / name).read_text())

    return Reviewed(read("providers.yaml"), read("model_map.yaml"), read("extra_endpoints.yaml"))


# ---------------------------------------------------------------- policy records


def build_policies(sources: Sources, reviewed: Reviewed) -> dict[str, Json]:
    spec = reviewed.providers
    return {
        key: build_policy(sources.policies[item["from"]], item, spec)
        for key, item in spec["policies"].items()
    }


def build_policy(entry: Json, item: Json, spec: Json) -> Json:
    facts = entry
    if "tier" in item:  # Gemini API: paid and unpaid tiers differ
        facts = {**entry, **next(t for t in entry["tiers"] if t["tier"].startswith(item["tier"]))}
    zdr = entry.get("zdr") or {}
    record: Json = {
        "retention_days": as_number(facts.get("default_retention_days")),
        "trains_on_data": facts.get("training_default")
        if isinstance(facts.get("training_default"), bool)
        else None,
        "zdr": spec["availability"][zdr.get("availability", "unknown")],
        "evidence": source_urls(entry),
        "verified_on": verified_on(entry, spec["collected_on"]),
        "confidence": entry.get("confidence", "unknown"),
        "conditions": policy_conditions(entry, item),
        "notes": policy_notes(entry, item),
    }
    record.update(item.get("override", {}))
    return record


def as_number(value: Any) -> float | int | None:
    """Numbers only: 'unknown', null and prose all mean "not known"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def source_urls(entry: Json) -> list[str]:
    urls = [s["url"] for s in entry.get("sources", []) if str(s.get("url", "")).startswith("http")]
    return sorted(set(urls))


def verified_on(entry: Json, collected_on: str) -> str:
    """The collection date, unless a source is itself dated later (then it was read later)."""
    latest = dt.date.fromisoformat(collected_on)
    for source in entry.get("sources", []):
        for found in dates_in(str(source.get("version", ""))):
            latest = max(latest, found)
    return latest.isoformat()


def dates_in(text: str) -> list[dt.date]:
    months = _MONTHS.split()
    found = [dt.date(int(y), int(m), int(d)) for y, m, d in ISO_DATE.findall(text)]
    found += [dt.date(int(y), months.index(m) + 1, int(d)) for m, d, y in MONTH_DATE.findall(text)]
    return found


def policy_conditions(entry: Json, item: Json) -> list[str]:
    zdr = entry.get("zdr") or {}
    conditions = list(item.get("add_conditions", []))
    conditions += [str(c) for c in zdr.get("conditions", [])]
    conditions += [f"Exception: {e}" for e in entry.get("exceptions", []) or []]
    return conditions


def policy_notes(entry: Json, item: Json) -> str:
    """Review notes; a 'Sources conflict:' marker for ``catalog check`` where sources disagree."""
    parts = [" ".join(str(item["notes"]).split())] if item.get("notes") else []
    for conflict in find_conflicts(entry) + list(item.get("conflicts", [])):
        parts.append(f"Sources conflict: {conflict} (stricter reading applied).")
    return " ".join(parts)


def find_conflicts(entry: Json) -> list[str]:
    """Every ``*_conflict`` field the research dataset recorded, at any depth."""
    found: list[str] = []
    for key, value in sorted(entry.items()):
        if key.endswith("_conflict"):
            found.append(" ".join(str(value).split()))
        elif isinstance(value, dict):
            found += find_conflicts(value)
    return found


# ---------------------------------------------------------------- providers


def build_providers(reviewed: Reviewed) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for pid, item in reviewed.providers["providers"].items():
        provider: Json = {
            "name": item["name"],
            "protocol": item["protocol"],
            "base_url": item["base_url"],
            "api_key_env": item["api_key_env"],
            "policy": item["policy"],
        }
        if item.get("regional_base_urls"):
            provider["regional_base_urls"] = dict(item["regional_base_urls"])
        if item.get("auth"):
            provider["auth"] = item["auth"]
        if item.get("requires_base_url"):
            provider["requires_base_url"] = True
        if item.get("base_url_hosts"):
            provider["base_url_hosts"] = sorted(item["base_url_hosts"])
        if item.get("requires_deployment"):
            provider["requires_deployment"] = True
        check_placeholders(pid, provider)
        out[pid] = provider
    return out


# A URL that names a resource the operator must choose. The catalog marks such
# providers with ``requires_base_url`` (the policy engine reads the marker, never
# this pattern); the pattern only stops a placeholder from shipping unmarked.
PLACEHOLDER = re.compile(r"YOUR-|[<>{}]|example\.(com|invalid)", re.IGNORECASE)


def check_placeholders(pid: str, provider: Json) -> None:
    urls = [provider["base_url"], *provider.get("regional_base_urls", {}).values()]
    marked = provider.get("requires_base_url", False)
    if marked and (provider.get("regional_base_urls") or not provider.get("base_url_hosts")):
        raise SystemExit(f"{pid}: requires_base_url needs base_url_hosts and no regional URLs")
    for url in urls:
        if PLACEHOLDER.search(url) and not marked:
            raise SystemExit(f"{pid}: {url} looks like a placeholder; mark requires_base_url")


# ---------------------------------------------------------------- endpoints


def capabilities_from_models_dev(facts: Json, embedding: bool) -> list[str]:
    modalities = facts.get("modalities", {})
    caps = {
        "tools": bool(facts.get("tool_call")),
        "vision": "image" in modalities.get("input", []),
        "structured_output": bool(facts.get("structured_output")),
        "reasoning": bool(facts.get("reasoning")),
        "image_output": "image" in modalities.get("output", []),
        "embeddings": embedding,
    }
    return sorted(name for name, present in caps.items() if present)


def is_embedding(upstream_id: str, facts: Json) -> bool:
    return "embed" in upstream_id.lower() or "embed" in str(facts.get("family", "")).lower()


def price(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return None if number < 0 else round(number, 6)


def positive(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and value > 0 else None


def endpoint_from_models_dev(provider: str, upstream_id: str, facts: Json) -> Json:
    embedding = is_embedding(upstream_id, facts)
    modalities = facts.get("modalities", {})
    cost = facts.get("cost", {})
    limit = facts.get("limit", {})
    return {
        "provider": provider,
        "upstream_id": upstream_id,
        "context_length": positive(limit.get("context")),
        "max_output_tokens": None if embedding else positive(limit.get("output")),
        "input_modalities": list(modalities.get("input", ["text"])),
        "output_modalities": ["embeddings"]
        if embedding
        else list(modalities.get("output", ["text"])),
        "capabilities": capabilities_from_models_dev(facts, embedding),
        "prompt_price": price(cost.get("input")),
        "completion_price": None if embedding else price(cost.get("output")),
        "image_price": None,
    }


def capabilities_from_openrouter(item: Json) -> list[str]:
    params = set(item.get("supported_parameters", []))
    arch = item["architecture"]
    caps = {
        "tools": "tools" in params,
        "vision": "image" in arch["input_modalities"],
        "structured_output": bool(params & {"response_format", "structured_outputs"}),
        "reasoning": bool(params & {"reasoning", "include_reasoning"}),
        "image_output": "image" in arch["output_modalities"],
    }
    return sorted(name for name, present in caps.items() if present)


def endpoint_from_openrouter(item: Json) -> Json:
    top = item.get("top_provider") or {}
    pricing = item["pricing"]
    return {
        "provider": "openrouter",
        "upstream_id": item["id"],
        "context_length": positive(top.get("context_length") or item.get("context_length")),
        "max_output_tokens": positive(top.get("max_completion_tokens")),
        "input_modalities": list(item["architecture"]["input_modalities"]),
        "output_modalities": list(item["architecture"]["output_modalities"]),
        "capabilities": capabilities_from_openrouter(item),
        "prompt_price": per_million(pricing.get("prompt")),
        "completion_price": per_million(pricing.get("completion")),
        "image_price": None,
    }


def per_million(value: Any) -> float | None:
    # OpenRouter quotes USD per token as strings ("0.00000025"): scale before rounding,
    # or every sub-dollar price rounds to 0.
    if value is None or isinstance(value, bool):
        return None
    number = float(value) * 1_000_000
    return None if number < 0 else round(number, 6)


def bedrock_region(upstream_id: str) -> str | None:
    match = BEDROCK_PROFILE.match(upstream_id)
    return match.group(1) if match else None


# ---------------------------------------------------------------- public model ids


def near_duplicate_key(model_id: str) -> str:
    """Case, dates, ``-instruct`` and ``.``/``-`` spelling do not make a new model."""
    key = model_id.lower().split(":")[0]
    while True:
        stripped = DATE_SUFFIX.sub("", key)
        stripped = stripped.removesuffix("-instruct")
        if stripped == key:
            return key.replace(".", "-")
        key = stripped


def public_openrouter_ids(sources: Sources, model_map: Json) -> list[str]:
    rules = model_map["openrouter"]
    dropped = set(rules["drop"])
    return sorted(
        model_id
        for model_id in sources.openrouter
        if model_id not in dropped
        and not model_id.startswith(tuple(rules["exclude_prefixes"]))
        and not any(model_id.endswith(s) for s in rules["exclude_suffixes"])
    )


# ---------------------------------------------------------------- assembling models


@dataclass
class Assembly:
    endpoints: dict[str, list[Json]]  # public id -> endpoints
    facts: dict[str, Json]  # public id -> models-dev facts of its first endpoint
    authors: dict[str, str]  # public id -> models-dev dir the facts came from


def assemble(sources: Sources, reviewed: Reviewed) -> Assembly:
    asm = Assembly({}, {}, {})
    for model_id in public_openrouter_ids(sources, reviewed.model_map):
        asm.endpoints.setdefault(model_id, []).append(
            endpoint_from_openrouter(sources.openrouter[model_id])
        )
    for pid, item in sorted(reviewed.providers["providers"].items()):
        add_provider_endpoints(asm, sources, reviewed, pid, item)
    for extra in reviewed.extra["endpoints"]:
        add_extra_endpoint(asm, extra)
    return asm


def add_provider_endpoints(
    asm: Assembly, sources: Sources, reviewed: Reviewed, pid: str, item: Json
) -> None:
    mapping = (reviewed.model_map["providers"] or {}).get(pid) or {}
    overrides = reviewed.model_map.get("endpoint_policies", {}).get(pid, {})
    protocols = reviewed.model_map.get("endpoint_protocols", {}).get(pid, {})
    for directory in item["models_dev"]:
        for upstream_id, facts in sorted(sources.models_dev[directory].items()):
            if upstream_id not in mapping:
                raise SystemExit(f"unreviewed model id {pid}:{upstream_id} (run --suggest)")
            public_id = mapping[upstream_id]
            if public_id is None:
                continue
            endpoint = endpoint_from_models_dev(pid, upstream_id, facts)
            add_endpoint_details(endpoint, pid, upstream_id, overrides)
            if upstream_id in protocols:
                endpoint["protocol"] = protocols[upstream_id]
            asm.endpoints.setdefault(public_id, []).append(endpoint)
            asm.facts.setdefault(public_id, facts)
            asm.authors.setdefault(public_id, directory)
    served = {uid for d in item["models_dev"] for uid in sources.models_dev[d]}
    if unknown := sorted(set(protocols) - served):
        raise SystemExit(f"endpoint_protocols.{pid}: no such model id {unknown}")
    for region in item.get("endpoint_regions", []):
        add_regional_copies(asm, pid, region)


def add_endpoint_details(endpoint: Json, pid: str, upstream_id: str, overrides: Json) -> None:
    if pid == "amazon-bedrock" and (region := bedrock_region(upstream_id)):
        endpoint["region"] = region
    if pid == "amazon-bedrock":  # Bedrock caches JSON schemas 24 h: never sent
        endpoint["capabilities"] = [c for c in endpoint["capabilities"] if c != "structured_output"]
    if upstream_id in overrides:
        endpoint["policy"] = overrides[upstream_id]


def add_regional_copies(asm: Assembly, pid: str, region: str) -> None:
    """A provider with regional hosts offers each model there too (same id, same terms)."""
    for endpoints in asm.endpoints.values():
        home = [e for e in endpoints if e["provider"] == pid and "region" not in e]
        known = {(e["upstream_id"], e.get("region")) for e in endpoints}
        for endpoint in home:
            if (endpoint["upstream_id"], region) not in known:
                endpoints.append({**endpoint, "region": region})


def add_extra_endpoint(asm: Assembly, extra: Json) -> None:
    endpoint = {
        key: value for key, value in extra.items() if key not in {"model", "name", "source"}
    }
    asm.endpoints.setdefault(extra["model"], []).append(endpoint)
    asm.facts.setdefault(extra["model"], {"name": extra["name"]})


def build_models(sources: Sources, reviewed: Reviewed) -> list[Json]:
    asm = assemble(sources, reviewed)
    models = [
        build_model(model_id, endpoints, sources, asm)
        for model_id, endpoints in sorted(asm.endpoints.items())
    ]
    check_unique(models)
    return models


def build_model(model_id: str, endpoints: list[Json], sources: Sources, asm: Assembly) -> Json:
    endpoints = sorted(
        endpoints, key=lambda e: (e["provider"], e.get("region") or "", e["upstream_id"])
    )
    item = sources.openrouter.get(model_id)
    if item is not None:
        return {
            "id": model_id,
            "name": item["name"],
            "context_length": item.get("context_length"),
            "input_modalities": list(item["architecture"]["input_modalities"]),
            "output_modalities": list(item["architecture"]["output_modalities"]),
            "description": item.get("description", ""),
            "created": int(item.get("created", 0)),
            "endpoints": endpoints,
        }
    facts = asm.facts[model_id]
    first = endpoints[0]
    contexts = [e["context_length"] for e in endpoints if e.get("context_length")]
    return {
        "id": model_id,
        "name": f"{author_name(model_id)}: {facts['name']}",
        "context_length": max(contexts) if contexts else None,
        "input_modalities": first["input_modalities"],
        "output_modalities": first["output_modalities"],
        "description": "",
        "created": release_epoch(facts.get("release_date")),
        "endpoints": endpoints,
    }


AUTHOR_NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google",
    "meta-llama": "Meta",
    "mistralai": "Mistral",
    "qwen": "Qwen",
    "deepseek": "DeepSeek",
    "x-ai": "xAI",
    "cohere": "Cohere",
    "microsoft": "Microsoft",
    "z-ai": "Z.ai",
    "moonshotai": "MoonshotAI",
    "nvidia": "NVIDIA",
    "minimax": "MiniMax",
    "amazon": "Amazon",
    "baidu": "Baidu",
}


def author_name(model_id: str) -> str:
    author = model_id.split("/", maxsplit=1)[0]
    return AUTHOR_NAMES.get(author, author)


def release_epoch(value: Any) -> int:
    if not value:
        return 0
    day = dt.date.fromisoformat(str(value)[:10])
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def check_unique(models: list[Json]) -> None:
    """Fail the build on near-duplicate public ids or doubled provider endpoints."""
    seen: dict[str, str] = {}
    for model in models:
        key = near_duplicate_key(model["id"])
        if key in seen:
            raise SystemExit(f"near-duplicate public ids: {seen[key]} and {model['id']}")
        seen[key] = model["id"]
        slots = [(e["provider"], e.get("region")) for e in model["endpoints"]]
        if len(slots) != len(set(slots)):
            raise SystemExit(f"{model['id']}: two endpoints of one provider and region")


# ---------------------------------------------------------------- output


def render(policies: dict[str, Json], providers: dict[str, Json], models: list[Json]) -> str:
    """Pretty enough to diff: one policy, provider or endpoint per line."""

    def one(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    lines = [f'{{"schema_version": {SCHEMA_VERSION},', '"policies": {']
    lines += [f" {one(k)}: {one(v)}," for k, v in sorted(policies.items())]
    lines[-1] = lines[-1].rstrip(",")
    lines += ["},", '"providers": {']
    lines += [f" {one(k)}: {one(v)}," for k, v in sorted(providers.items())]
    lines[-1] = lines[-1].rstrip(",")
    lines += ["},", '"models": [']
    for index, model in enumerate(models):
        head = {k: v for k, v in model.items() if k != "endpoints"}
        lines.append(f' {one(head)[:-1]}, "endpoints": [')
        lines += [f"  {one(e)}," for e in model["endpoints"]]
        lines[-1] = lines[-1].rstrip(",")
        lines.append(" ]}" + ("," if index < len(models) - 1 else ""))
    lines += ["]}", ""]
    return "\n".join(lines)


def build(data_dir: Path) -> str:
    sources = load_sources(data_dir)
    reviewed = load_reviewed()
    policies = build_policies(sources, reviewed)
    providers = build_providers(reviewed)
    models = build_models(sources, reviewed)
    return render(policies, providers, models)


# ---------------------------------------------------------------- --suggest


def suggest(data_dir: Path) -> None:
    """Print YAML lines for provider model ids the reviewed mapping does not list yet.

    A heuristic only: the match ignores the author, case, ``.``/``-``/``p`` spelling,
    dates and common serving suffixes. Review every line before committing it.
    """
    sources = load_sources(data_dir)
    reviewed = load_reviewed()
    public = public_openrouter_ids(sources, reviewed.model_map)
    index = {
        near_duplicate_key(model_id.split("/", 1)[1]).replace(".", "-"): model_id
        for model_id in public
    }
    for pid, item in sorted(reviewed.providers["providers"].items()):
        mapping = (reviewed.model_map["providers"] or {}).get(pid) or {}
        missing = [
            upstream
            for directory in item["models_dev"]
            for upstream in sorted(sources.models_dev[directory])
            if upstream not in mapping
        ]
        if missing:
            print(f"  {pid}:")
        for upstream in missing:
            guess = index.get(loose_key(upstream))
            print(f"    {json.dumps(upstream)}: {guess or 'null'}{'' if guess else '  # TODO'}")


SERVING_SUFFIXES = re.compile(r"(-maas|-v\d+:\d+|-v\d+|-fp8|-turbo|-tput|-fast|@.*)$")


def loose_key(upstream_id: str) -> str:
    key = upstream_id.lower().split("/")[-1]
    key = BEDROCK_PROFILE.sub("", key)
    key = re.sub(
        r"^(anthropic|meta|amazon|mistral|openai|qwen|deepseek|google|zai|minimax)\.", "", key
    )
    for _ in range(3):
        key = SERVING_SUFFIXES.sub("", key)
    key = re.sub(r"(\d)p(\d)", r"\1.\2", key)
    return near_duplicate_key(key).replace(".", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(OUTPUT))
    parser.add_argument("--suggest", action="store_true", help="print mapping candidates")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    if args.suggest:
        suggest(data_dir)
        return 0
    Path(args.out).write_text(build(data_dir), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
