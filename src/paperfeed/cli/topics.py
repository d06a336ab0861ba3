"""``paperfeed topics`` and ``paperfeed authors``: flags in, library calls, one clear line per problem."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import echo_after_ingest, echo_json, fail, open_store, store_errors


def _alpha(ctx: click.Context, alpha: float | None) -> float:
    value = ctx.obj.topic_alpha if alpha is None else alpha
    if not 0 < value < 1:
        fail(f"alpha must be between 0 and 1 (exclusive), got {value} "
              f"({'--alpha' if alpha is not None else 'PAPERFEED_TOPIC_ALPHA'})", 2)
    return value


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _topic(store, reference: str):
    from ..storage import slugify

    wanted = reference.strip().lower()
    for row in store.topics():
        if wanted in (row.slug, row.name.lower()) or slugify(reference) == row.slug:
            return row
    fail(f"no topic {reference!r} (see `paperfeed topics list`)")


@click.group()
def topics() -> None:
    """Topics: list, show (items, collaborating authors, trend), tag, add, evaluate category prediction."""


@topics.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def list_topics(ctx: click.Context, as_json: bool) -> None:
    """List every topic with its item count and where it is defined."""
    from ..topics.tagger import all_topics, sync_topics
    from ..topics.taxonomy import TaxonomyError

    with open_store(ctx) as store:
        try:
            sync_topics(store, all_topics(store, ctx.obj.topics_file or None))
        except TaxonomyError as error:
            fail(str(error), 2)
        counts = store.topic_item_counts()
        rows = [{"name": row.name, "slug": row.slug, "origin": row.origin, "items": counts.get(row.id, 0),
                 "description": row.description, "categories": row.categories, "phrases": row.phrases}
                for row in store.topics()]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['slug']:32} {row['items']:>8,}  {row['name']} [{row['origin']}]")


@topics.command("show")
@click.argument("topic")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Items to show.")
@click.option("--authors", "author_limit", default=15, show_default=True, type=click.IntRange(1, 200),
              help="Collaborating authors to show.")
@click.option("--min-confidence", type=click.FloatRange(0, 1),
              help="Leave out tagged items below this confidence instead of the topic's cut-off "
                   "(gold labels always count).")
@click.option("--all", "show_all", is_flag=True, help="Also list the items the tagger kept below the topic's cut-off.")
@click.option("--weeks", default=26, show_default=True, type=click.IntRange(1, 520), help="Weeks of trend.")
@click.option("--svg", type=click.Path(dir_okay=False, path_type=Path), help="Write the trend chart here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def show_topic(ctx: click.Context, topic: str, limit: int, author_limit: int, min_confidence: float | None,
               show_all: bool, weeks: int, svg: Path | None, as_json: bool) -> None:
    """Show a topic (by slug or name): newest items, Collaborating Authors, items per week.

    Lists the items filed under the topic: its gold items and those tagged at or above its calibrated cut-off.
    """
    from ..authors import collaborating_authors
    from ..topics.chart import weekly_svg
    from ..topics.trends import weekly_counts

    with open_store(ctx) as store:
        row = _topic(store, topic)
        if show_all and min_confidence is None:
            min_confidence = 0.0
        filed, held = store.topic_counts(row.id)
        items = store.topic_items(row.id, limit=limit, min_confidence=min_confidence)
        people = collaborating_authors(store, row.id, limit=author_limit, min_confidence=min_confidence)
        trend = weekly_counts(store.topic_day_counts(row.id, min_confidence), weeks=weeks)
    if svg:
        try:
            svg.write_text(weekly_svg(row.name, trend), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {svg}: {error.strerror or error}")
    page = {"name": row.name, "slug": row.slug, "description": row.description, "cutoff": row.cutoff,
            "cutoff_precision": row.cutoff_precision, "filed_items": filed, "below_cutoff": held - filed,
            "items": items, "collaborating_authors": people, "trend": trend}
    if as_json:
        echo_json(page)
        return
    click.echo(f"{row.name}: {row.description}")
    if row.cutoff is not None:
        precision = "unknown" if row.cutoff_precision is None else f"{row.cutoff_precision:.2f}"
        click.echo(f"{filed:,} items at or above the cut-off {row.cutoff:.2f} (estimated precision {precision}); "
                   f"{held - filed:,} below it{' (listed)' if min_confidence is not None else ' (--all lists them)'}")
    for item in items:
        click.echo(f"  {item['published'] or '----------'}  {item['confidence']:.2f}  {item['title']}"
                   f"  [{', '.join(item['sources'])}]")
    click.echo("Collaborating Authors:")
    names = {person["key"]: person["name"] for person in people["authors"]}
    for person in people["authors"]:
        click.echo(f"  {person['name']} ({person['papers']} items)")
    for edge in people["edges"][:20]:
        click.echo(f"  {names[edge['source']]} — {names[edge['target']]}: {edge['papers']}")
    click.echo("Items per week: " + " ".join(str(point["items"]) for point in trend))


@topics.command("tag")
@click.option("--retrain", is_flag=True, help="Train the models again even if the topics have not changed.")
@click.option("--alpha", type=float, help="Conformal error rate (default: the topic_alpha setting).")
@click.option("--no-index", is_flag=True, help="Leave the search indexes for a later `paperfeed index`.")
@click.option("--no-vectors", is_flag=True, help="Update the keyword index but compute no embeddings now.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@store_errors
def tag(ctx: click.Context, retrain: bool, alpha: float | None, no_index: bool, no_vectors: bool,
        as_json: bool) -> None:
    """Tag items with topics and predict categories, training first when needed; only new or changed items.

    Then the search indexes take the new topics (so that `search "topic:SLUG"` finds what `topics show` lists).
    """
    from ..pipeline import after_ingest
    from ..progress import record_progress
    from ..topics.tagger import TaggerError, tag_store
    from ..topics.taxonomy import TaxonomyError

    value = _alpha(ctx, alpha)
    with open_store(ctx) as store:
        with record_progress("tagging") as advance:
            try:
                report = tag_store(store, alpha=value, topics_file=ctx.obj.topics_file or None, retrain=retrain,
                                   on_items=advance)
            except TaxonomyError as error:
                fail(str(error), 2)
            except TaggerError as error:
                fail(str(error))
        # Tagged just now (identities too): what is left is indexing the new topics, and the calendar.
        done = after_ingest(store, ctx.obj, None, tag=False, index=not no_index, vectors=not no_vectors,
                            progress=record_progress)
    figures = {"trained": report.trained, "tagged": report.tagged, "seconds": round(report.seconds, 2),
               "train_seconds": round(report.train_seconds, 2), "dropped": report.dropped,
               "author_names_merged": report.identities_merged, "notes": report.notes}
    if as_json:
        if done.index is not None:
            figures["search_index"] = {"indexed": done.index.indexed, "deleted": done.index.deleted,
                                       "embedded": done.index.embedded, "reused_vectors": done.index.reused_vectors,
                                       "notes": done.index.notes}
        elif "index" in done.errors:
            figures["search_index"] = {"error": done.errors["index"]}
        echo_json(figures)
        return
    if report.trained:
        click.echo(f"trained {', '.join(report.trained)} in {report.train_seconds:.1f} s")
    for name, dropped in report.dropped.items():
        if dropped and name in report.trained:
            click.echo(f"{name}: too few examples to learn {', '.join(dropped)}")
    for note in report.notes:
        click.echo(note)
    scope = "of all authors" if report.trained else "among the tagged items' authors and their namesakes"
    click.echo(f"tagged {report.tagged:,} items in {report.seconds:.1f} s; "
               f"{report.identities_merged:,} author names {scope} merged into another identity")
    echo_after_ingest(done)


@topics.command("add")
@click.argument("name")
@click.option("--description", default="", help="One line saying what the topic covers.")
@click.option("--categories", multiple=True, metavar="CATS",
              help="arXiv categories whose primary items belong to the topic (comma-separated, repeatable).")
@click.option("--phrases", multiple=True, metavar="PHRASES",
              help="Seed phrases that mark an item as the topic's (comma-separated, repeatable).")
@click.pass_context
@store_errors
def add(ctx: click.Context, name: str, description: str, categories: tuple[str, ...], phrases: tuple[str, ...]) -> None:
    """Add (or redefine) a topic of your own; `paperfeed topics tag` learns it."""
    from ..storage import TopicRow
    from ..topics.taxonomy import TaxonomyError, make_topic

    try:
        topic = make_topic(name, description, _split(categories), _split(phrases), origin="user",
                           place=f"topic {name!r}")
    except TaxonomyError as error:
        fail(str(error), 2)
    with open_store(ctx) as store:
        ids = store.save_topics([TopicRow(name=topic.name, description=topic.description,
                                          categories=list(topic.categories), phrases=list(topic.phrases),
                                          origin="user")])
        slug = next(row.slug for row in store.topics() if row.id == ids[topic.name])
    click.echo(f"topic {topic.name!r} saved as {slug}; run `paperfeed topics tag` to learn and tag it")


@topics.command("evaluate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_name", metavar="NAME", help="Parse every file as this format.")
@click.option("--alpha", type=float, help="Conformal error rate (default: the topic_alpha setting).")
@click.pass_context
@store_errors
def evaluate(ctx: click.Context, paths: tuple[Path, ...], format_name: str | None, alpha: float | None) -> None:
    """Predict categories for the labelled records in PATHs as if they had none; print one JSON line of scores."""
    from ..sources import get_format
    from ..topics.evaluate import category_model, evaluate_records, read_labelled
    from ..topics.tagger import TaggerError

    if format_name:
        try:
            get_format(format_name)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--format") from None
    value = _alpha(ctx, alpha)
    found = read_labelled(paths, format_name)
    for failure in found.failures:
        click.echo(f"FAILED {failure}", err=True)
    if not found.records:
        fail(f"no record with arXiv categories in {', '.join(map(str, paths))}: nothing to evaluate")
    with open_store(ctx) as store:
        try:
            model = category_model(store, value)
        except TaggerError as error:
            fail(str(error))
        # Records the store already holds were (probably) trained on: their scores flatter the model.
        known = sum(1 for record in found.records if record.arxiv_id and store.find_item(record.arxiv_id) is not None)
    figures = evaluate_records(model, found.records)
    echo_json({**figures, "unlabelled_records": found.unlabelled, "duplicates": found.duplicates,
           "records_already_in_store": known, "failed_files": len(found.failures)})
    if found.failures:
        sys.exit(1)


@topics.command("item")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def item_topics(ctx: click.Context, reference: str, as_json: bool) -> None:
    """Show an item's topics with confidence and who assigned them, and its predicted categories."""
    with open_store(ctx) as store:
        item_id = store.find_item(reference)
        if item_id is None:
            fail(f"no item {reference!r} (give an item id, an arXiv id or a DOI)")
        found = store.item_topic_confidences([item_id]).get(item_id, [])
        predicted = store.predicted_categories([item_id]).get(item_id, [])
    result = {"id": item_id, "topics": [{"name": n, "assigned_by": by, "confidence": c} for n, by, c in found],
              "predicted_categories": [{"category": c, "confidence": p} for c, p in predicted]}
    if as_json:
        echo_json(result)
        return
    for entry in result["topics"]:
        click.echo(f"{entry['confidence']:.2f}  {entry['name']} ({entry['assigned_by']})")
    for entry in result["predicted_categories"]:
        click.echo(f"{entry['confidence']:.2f}  {entry['category']} (predicted)")


@click.group()
def authors() -> None:
    """Authors: the people behind names (a name may be several people), their papers, topics and collaborators;
    split and merge people by hand."""


def _echo_profile(profile: dict) -> None:
    label = f"person {profile['id']}" if profile["id"] is not None else "not yet told apart"
    click.echo(f"{profile['name']} ({label}; {profile['papers_count']} items; "
               f"names: {', '.join(profile['variants'])})")
    for paper in profile["papers"]:
        click.echo(f"  {paper['published'] or '----------'}  [{paper['id']}] {paper['title']}")
    click.echo("  topics: " + ", ".join(f"{t['name']} ({t['count']})" for t in profile["topics"][:10]))
    click.echo("  collaborators: " + ", ".join(f"{c['name']} ({c['count']})" for c in profile["collaborators"][:15]))


@authors.command("show")
@click.argument("name")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000), help="Papers to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list: a name can be several people).")
@click.pass_context
@store_errors
def show_author(ctx: click.Context, name: str, limit: int, as_json: bool) -> None:
    """Show the people a name (or a person id, as `person:ID`) refers to: names, papers, topics, collaborators."""
    from ..authors import author_profile, people_named, person_profile

    with open_store(ctx) as store:
        if name.startswith("person:"):
            profile = person_profile(store, _person_id(name[7:], "person:ID"), paper_limit=limit)
            if profile is None:
                fail(f"no person {name[7:]!r}")
            profiles = [profile]
        else:
            found = people_named(store, name)
            if not found:
                fail(f"no author named {name!r}")
            profiles = [person_profile(store, ref["id"], paper_limit=limit) if ref["id"] is not None
                        else author_profile(store, ref["author_id"], paper_limit=limit) for ref in found]
    if as_json:
        echo_json(profiles)
        return
    for profile in profiles:
        _echo_profile(profile)


def _person_id(text: str, place: str) -> int:
    try:
        value = int(text)
    except ValueError:
        fail(f"not a person id: {text!r} ({place})", 2)
    if value < 1:
        fail(f"not a person id: {text!r} ({place})", 2)
    return value


def _item_ids(values: tuple[str, ...]) -> list[int]:
    ids = []
    for part in _split(values):
        if not part.isdigit():
            fail(f"not an item id: {part!r} (--papers)", 2)
        ids.append(int(part))
    return ids


@authors.command("split")
@click.argument("person", type=str)
@click.option("--papers", multiple=True, required=True, metavar="ITEM,…",
              help="Item ids (as `authors show` lists them) that are someone else.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def split_author(ctx: click.Context, person: str, papers: tuple[str, ...], as_json: bool) -> None:
    """Take papers out of a person: they become a person of their own, kept apart by every later refresh."""
    from ..authors import DecisionError, split_person

    person_id = _person_id(person, "PERSON")
    items = _item_ids(papers)
    with open_store(ctx) as store:
        try:
            new_id = split_person(store, person_id, items)
        except DecisionError as error:
            fail(str(error))
    if as_json:
        echo_json({"person": person_id, "new_person": new_id, "papers": items})
    else:
        click.echo(f"split {len(items)} paper(s) off person {person_id}: now person {new_id}")


@authors.command("merge")
@click.argument("people", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def merge_authors(ctx: click.Context, people: tuple[str, ...], as_json: bool) -> None:
    """Make two or more people one, kept together by every later refresh."""
    from ..authors import DecisionError, merge_people

    ids = [_person_id(value, "PEOPLE") for value in _split(people)]
    with open_store(ctx) as store:
        try:
            merged = merge_people(store, ids)
        except DecisionError as error:
            fail(str(error))
    if as_json:
        echo_json({"people": ids, "person": merged})
    else:
        click.echo(f"merged people {', '.join(map(str, ids))}: now person {merged}")
