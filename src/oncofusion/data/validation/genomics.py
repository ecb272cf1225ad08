"""Rules for the genomics table (one row per patient) and the gene interaction graph."""

from __future__ import annotations

import pandas as pd

from oncofusion.data.schema import CohortSchema
from oncofusion.data.validation._checks import (
    Table,
    check_declared_columns,
    check_patient_ids,
    fail_rows,
    parse_numeric,
)
from oncofusion.errors import CohortError

__all__ = ["validate_gene_graph", "validate_genomics"]


def validate_genomics(table: Table, schema: CohortSchema, patient_ids: set[str]) -> pd.DataFrame:
    """Check the genomics table and return it typed.

    Rules: columns ``patient_id`` and exactly the genes ``cohort.yaml`` declares; ids unique
    and all patients; values numeric (e.g. expression, copy number, mutation coded 0/1) or
    empty.

    Parameters
    ----------
    table
        The genomics table as read.
    schema
        The cohort's schema.
    patient_ids
        The ids of the patients table.

    Returns
    -------
    pandas.DataFrame
        ``patient_id`` (str) and one float64 column per gene, in ``cohort.yaml`` order.

    Raises
    ------
    CohortError
        For the first rule the table breaks.
    """
    if not schema.genomics:
        raise CohortError(
            "the cohort has a genomics table but cohort.yaml declares no genes.",
            file=table.file,
            fix="list the gene columns under 'genomics:' in cohort.yaml, or remove the table.",
        )
    check_declared_columns(
        table, fixed=("patient_id",), declared=schema.genomics, yaml_key="genomics"
    )
    check_patient_ids(table, unique=True, known=patient_ids)
    out = pd.DataFrame({"patient_id": table.frame["patient_id"].astype(str)})
    for gene in schema.genomics:
        out[gene] = parse_numeric(
            table, gene, what="a gene feature", allow_missing=True,
            fix="write numbers (expression, copy number, or 1 = mutated / 0 = wild type); leave "
            "the cell empty when unknown.",
        )  # fmt: skip
    return out


def validate_gene_graph(table: Table, schema: CohortSchema) -> pd.DataFrame:
    """Check the gene graph: columns ``gene_a``, ``gene_b``; every name a declared gene.

    Returns
    -------
    pandas.DataFrame
        ``gene_a``, ``gene_b`` (str), one row per edge as given.

    Raises
    ------
    CohortError
        When a column is missing or extra, a name is missing, or a gene is not declared
        under ``genomics`` in ``cohort.yaml``.
    """
    check_declared_columns(table, fixed=("gene_a", "gene_b"), yaml_key=None)
    genes = set(schema.genomics)
    for col in ("gene_a", "gene_b"):
        names = table.frame[col]
        missing = names.isna().to_numpy()
        if missing.any():
            raise fail_rows(
                table, missing, "the gene name is missing", column=col, show_values=False,
                fix="give both genes of every edge, or delete the row.",
            )  # fmt: skip
        unknown = (~names.isin(genes)).to_numpy()
        if unknown.any():
            declared = ", ".join(schema.genomics) if genes else "none"
            raise fail_rows(
                table, unknown, f"the gene is not among the genomics columns declared in cohort.yaml: "
                f"{declared}", column=col,
                fix="use the names of the genomics columns (case-sensitive), or declare the gene "
                "and add its column to the genomics table.",
            )  # fmt: skip
    return table.frame[["gene_a", "gene_b"]].astype(str).reset_index(drop=True)
