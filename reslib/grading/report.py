"""What the instructor reads: the summary after grading and the CSV export (issue 14, item 4).

A submission *needs review* when grading found a problem (kernel died, timed out, corrupt
notebook, edited metadata, missing notebook, grading failed) or a flag (its cells touch the
grading machinery). It is never silently 0 and never missing: the CSV has nbgrader's columns
(``nbgrader export``) plus ``needs_review``, ``problems`` and ``flags``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from reslib.grading.coordinator import course_directory, load_reviews

EXTRA_COLUMNS = ("needs_review", "problems", "flags")


def needs_review(reviews: dict, assignment: str) -> dict[str, list[str]]:
    """``{student: reasons}`` of the submissions of ``assignment`` that need review."""
    return {student: record["problems"] + [f"flag: {flag}" for flag in record["flags"]]
            for student, record in sorted(reviews.get(assignment, {}).items())
            if record["problems"] or record["flags"]}


def scores(course: Path, assignment: str) -> dict[str, tuple[float, float]]:
    """``{student: (score, max_score)}`` from the instructor's gradebook."""
    from nbgrader.api import Gradebook

    coursedir = course_directory(course)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        return {submission.student_id: (float(submission.score), float(submission.max_score))
                for submission in gradebook.assignment_submissions(assignment)}


def summary(course: Path, assignment: str, results: list[dict]) -> str:
    """A table of this run (student, score, seconds, peak memory, review) and the review list."""
    got = scores(course, assignment)
    lines = [f"{assignment}: {len(results)} submissions graded",
             f"{'student':<24} {'score':>11} {'seconds':>8} {'peak MiB':>9}  review"]
    for result in sorted(results, key=lambda item: item["student"]):
        score, top = got.get(result["student"], (0.0, 0.0))
        review = "NEEDS REVIEW" if result["problems"] or result["flags"] else ""
        lines.append(f"{result['student']:<24} {score:>5g} / {top:<3g} "
                     f"{result['seconds']:>8.1f} {result['peak_mib']:>9.0f}  {review}")
    listed = needs_review(load_reviews(course), assignment)
    lines.append(f"\nneeds review ({len(listed)}):" if listed else "\nneeds review: none")
    for student, reasons in listed.items():
        lines += [f"  {student}:"] + [f"    - {reason}" for reason in reasons]
    return "\n".join(lines)


def export(course: Path, to: Path) -> list[dict[str, str]]:
    """``nbgrader export``'s CSV (through its ``CsvExportPlugin``) plus the review columns;
    returns the rows."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    coursedir = course_directory(course)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        CsvExportPlugin(to=str(to)).export(gradebook)
    reviews = load_reviews(course)
    with open(to, newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        record = reviews.get(row["assignment"], {}).get(row["student_id"])
        problems = record["problems"] if record else []
        found = record["flags"] if record else []
        row.update(needs_review="yes" if problems or found else "no",
                   problems=" | ".join(problems), flags=" | ".join(found))
    columns = list(rows[0]) if rows else list(EXTRA_COLUMNS)
    with open(to, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows
