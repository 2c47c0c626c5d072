"""The report summary as a typed model: what ``summary.json`` holds and what ``report.md``,
the plots, the HTML viewer and the terminal overview are rendered from.

:func:`lem.report.analysis.finish` builds a :class:`ReportSummary`; every consumer reads
it by attribute, so a field that is renamed or removed here is an error ``mypy`` reports
in every reader. ``summary.json`` is ``ReportSummary.model_dump(mode="python")`` with its
floats rounded (:func:`lem.report.build.summary_json_text`); the fields are declared in
the order of the file's keys, and the model reads any ``summary.json`` back
(``ReportSummary.model_validate(json.loads(text))``). Unknown keys are rejected and
instances are frozen.

Values are unrounded until the JSON is written; a statistic that is undefined or infinite
(an SD of zero, an unreachable MDE, the CI of one probe) is None. Maps whose keys are data
(model labels, conditions, domains, families, scorer ids, figure names) are ``dict``
fields in the order the report lists them; user tags are a free-form ``dict``.

:class:`EarlySummary` is the part known before the statistics
(:meth:`lem.report.analysis.Prepared.early_summary`): enough for the figures that need no
statistic, drawn while the statistics run.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from lem.defaults import BASELINE

__all__ = [
    "CI",
    "REPORT_FORMAT",
    "AblationAxiom",
    "AblationSummary",
    "AxisDelta",
    "CIMethod",
    "Comparison",
    "ComparisonKind",
    "ConditionCell",
    "CrossModelCell",
    "CrossModelRow",
    "DeltasMethod",
    "Description",
    "DomainCell",
    "DomainDeltaCell",
    "Driver",
    "EarlyComparison",
    "EarlyScorer",
    "EarlyStats",
    "EarlySummary",
    "EchoCheck",
    "EffectSizesMethod",
    "HolmMethod",
    "HolmSummary",
    "IncidenceCount",
    "IncidenceRow",
    "LineageCell",
    "LineageRow",
    "MDEMethod",
    "Methods",
    "ModelSummary",
    "Mover",
    "PairSummary",
    "PairedStats",
    "ParaphraseComparison",
    "ParaphraseFamily",
    "ParaphraseMethod",
    "PlacementCell",
    "PlacementSummary",
    "PlotFiles",
    "ReportSummary",
    "ScorerSummary",
    "SettingsSummary",
    "SourceSummary",
    "WilcoxonMethod",
    "condition_comparison_id",
]

REPORT_FORMAT = "lem-report/1"
"""``summary.json``'s ``format``."""

ComparisonKind = Literal["condition", "finetune"]
"""``condition``: a model's condition vs its baseline; ``finetune``: tuned vs base model."""


def condition_comparison_id(model: str, condition: str) -> str:
    """The id of ``model``'s comparison of ``condition`` with its baseline."""
    return f"{model}: {condition} vs {BASELINE}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Sections(_Model):
    """A model with optional sections (``_optional``) that are left out of its dump while
    absent (None), so a report without them keeps the keys it has always had."""

    _optional: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in self._optional:
                if data.get(name, 0) is None:
                    del data[name]
        return data


# ---- statistics --------------------------------------------------------------------------


class CI(_Model):
    """A confidence interval; ``low``/``high`` None when undefined (a single probe)."""

    low: float | None
    high: float | None
    level: float


class Description(_Model):
    """One condition's scores: :class:`lem.analysis.stats.Description`."""

    n: int
    mean: float
    median: float
    sd: float
    ci: CI
    ci_method: str


class PairedStats(_Model):
    """One paired comparison: :class:`lem.analysis.stats.PairedComparison` (``dz``,
    ``rank_biserial`` and ``mde`` None when undefined or unreachable)."""

    n: int
    mean_a: float
    mean_b: float
    mean_delta: float
    ci: CI
    ci_method: str
    p_wilcoxon: float | None
    dz: float | None
    rank_biserial: float | None
    improved: int
    regressed: int
    unchanged: int
    mde: float | None
    mde_alpha: float
    sd_delta: float


Driver = tuple[str, float]
"""A signal and its change (weighted contribution or raw difference), ``[name, delta]``."""


class Mover(_Model):
    """A probe among a comparison's largest regressions or rescues."""

    probe: str
    category: str
    a: float
    b: float
    delta: float
    drivers: list[Driver]


class Comparison(_Model):
    """A paired comparison, side ``b`` minus side ``a`` over the probes both scored.

    Without such probes ``n`` is 0 and ``stats`` None; ``holm_family`` False (all deltas
    zero) means no ``p_holm``; ``mde_note`` says why the MDE is missing."""

    id: str
    kind: ComparisonKind
    model_a: str
    condition_a: str
    model_b: str
    condition_b: str
    holm_family: bool
    mde_note: str | None
    n: int
    stats: PairedStats | None
    p_holm: float | None
    regressions: list[Mover]
    rescues: list[Mover]


# ---- per model ---------------------------------------------------------------------------


class ConditionCell(_Model):
    """A model's condition: responses scored and failed, and its description (None without
    a scored probe, and before the statistics)."""

    responses: int
    failed: int
    stats: Description | None


class DomainCell(_Model):
    """A domain under a condition: the probes scored and their mean (None without any)."""

    n: int
    mean: float | None


class DomainDeltaCell(_Model):
    """A domain under a kernel condition of a model with a baseline: as
    :class:`DomainCell`, and the mean paired Δ from baseline over ``n_paired`` probes."""

    n: int
    mean: float | None
    delta: float | None
    n_paired: int


class IncidenceCount(_Model):
    """Responses with the signal > 0, and their share (None without responses)."""

    count: int
    rate: float | None


class IncidenceRow(_Model):
    """A condition's responses, failures and signal incidence (a signal is None when the
    scorer does not report it)."""

    responses: int
    failed: int
    degeneration: IncidenceCount | None
    compliance: IncidenceCount | None
    empty: IncidenceCount | None

    def signals(self) -> list[tuple[str, IncidenceCount | None]]:
        """(report key, count) for each incidence signal, in column order."""
        return [
            ("degeneration", self.degeneration),
            ("compliance", self.compliance),
            ("empty", self.empty),
        ]


class ModelSummary(_Model):
    """One model under one scorer. ``conditions``, ``domains`` (domain → condition) and
    ``incidence`` follow ``condition_order`` (baseline first)."""

    probes: int
    conditions: dict[str, ConditionCell]
    condition_order: list[str]
    domains: dict[str, dict[str, DomainCell | DomainDeltaCell]]
    incidence: dict[str, IncidenceRow]


# ---- across models -----------------------------------------------------------------------


class CrossModelCell(_Model):
    """A kernel condition in the overview: its mean and the paired Δ from baseline."""

    mean: float | None
    n: int
    delta: float | None
    delta_ci: CI | None
    ci_method: str | None
    n_paired: int
    p_holm: float | None
    holm_family: bool
    comparison: str | None


class CrossModelRow(_Model):
    """A model in the overview (sorted by baseline mean)."""

    model: str
    family: str | None
    version: str | None
    probes: int
    baseline: Description | None
    conditions: dict[str, CrossModelCell]


class LineageCell(_Model):
    """A condition of a model in its family's lineage table."""

    mean: float | None
    delta: float | None
    delta_ci: CI | None
    ci_method: str | None
    n_paired: int
    p_holm: float | None


class LineageRow(_Model):
    """A model of a family, in version order."""

    model: str
    version: str | None
    baseline: float | None
    conditions: dict[str, LineageCell]


class PairSummary(_Model):
    """A fine-tuning pair: its comparisons (ids) and the tuned model's realignment ones."""

    base: str
    tuned: str
    comparisons: list[str]
    realignment: list[str]


class ParaphraseFamily(_Model):
    """One family (a probe and its rephrasings, two or more scored under both conditions)
    in a comparison: its members' deltas, their signs and whether the effect flips with
    wording (:class:`lem.analysis.families.FamilyStats`)."""

    family: str
    probes: list[str]
    deltas: list[float]
    mean_delta: float
    positive: int
    negative: int
    zero: int
    majority: Literal["+", "-", "0"] | None
    consistency: float
    flips: bool


class ParaphraseComparison(_Model):
    """A kernel condition vs baseline of a model whose probes have families: the effect
    with the family as the unit, its cluster-bootstrap CI beside the probe-level one, and
    the families (:class:`lem.analysis.families.FamilyAnalysis`). ``families`` lists the
    families with two or more members; ``flipped`` names those whose effect flips."""

    comparison: str
    model: str
    condition: str
    n: int
    n_families: int
    singletons: int
    unlabelled: int
    effect: float
    ci: CI
    probe_mean: float
    probe_ci: CI
    ci_ratio: float | None
    design_effect: float | None
    consistency: float | None
    flipped: list[str]
    families: list[ParaphraseFamily]


class AxisDelta(_Model):
    """One paired comparison of a kernel-axis table (ablation, placement): mean Δ = b − a
    over the probes scored under both, its CI, Wilcoxon p and Holm p within the table's
    own family."""

    n: int
    mean_delta: float
    ci: CI
    ci_method: str
    p_wilcoxon: float | None
    p_holm: float | None


class AblationAxiom(_Model):
    """One axiom of an ablation: its conditions' means and the four comparisons that
    attribute the effect to it (removing it: the kernel without it vs the full kernel and
    vs baseline; alone: the axiom by itself vs baseline and vs the full kernel)."""

    axiom: str
    without: str | None
    alone: str | None
    mean_without: float | None
    mean_alone: float | None
    without_vs_full: AxisDelta | None
    without_vs_baseline: AxisDelta | None
    alone_vs_baseline: AxisDelta | None
    alone_vs_full: AxisDelta | None


class AblationSummary(_Model):
    """A kernel ablation of one model (``lem ab --ablate K``): the full kernel vs baseline
    and each axiom's comparisons; Holm runs over this table's comparisons only."""

    model: str
    kernel: str
    full: str
    mean_baseline: float | None
    mean_full: float | None
    full_vs_baseline: AxisDelta | None
    family_size: int
    axioms: list[AblationAxiom]


class PlacementCell(_Model):
    """One placement of a kernel for one model: Δ vs baseline, and how the system role
    was handled (``folded``: responses whose system message was folded into the user
    turn; ``same_prompt_as``: the placement was not generated because, folded, it was
    another placement's prompt exactly)."""

    condition: str
    delta: AxisDelta | None
    responses: int
    folded: int
    same_prompt_as: str | None = None


class PlacementSummary(_Model):
    """The same kernel at several places (``--placements``): placement × model, each cell
    vs that model's baseline; Holm runs over the table's cells."""

    kernel: str
    placements: list[str]
    models: list[str]
    cells: dict[str, dict[str, PlacementCell]]
    family_size: int


class EchoCheck(_Model):
    """A kernel condition's Δ vs baseline under a scorer and under its kernel-masked twin
    (``masked:SCORER``: the kernel's own words removed from every answer before scoring).
    ``echo_share`` = 1 − masked Δ / Δ (for a positive Δ): the part of the gain that
    disappears with the kernel's words; ``warn`` when it is more than half."""

    comparison: str
    model: str
    condition: str
    masked_scorer: str
    delta: float
    masked_delta: float
    echo_share: float | None
    warn: bool


class HolmSummary(_Model):
    """The scorer's Holm family: its size, the MDE's level and the comparisons left out."""

    family_size: int
    mde_alpha: float
    excluded_all_zero: list[str]


class PlotFiles(_Model):
    """A figure's files, relative to the report folder."""

    png: str
    svg: str


class ScorerSummary(_Sections):
    """Everything the report computed under one scorer; ``paraphrase`` only when some
    model's probes have families (absent from the dump otherwise)."""

    _optional: ClassVar[tuple[str, ...]] = ("paraphrase", "ablation", "placements", "echo")

    holm: HolmSummary
    drivers: Literal["weighted", "raw"]
    models: dict[str, ModelSummary]
    comparisons: list[Comparison]
    cross_model: list[CrossModelRow]
    lineages: dict[str, list[LineageRow]]
    pairs: list[PairSummary]
    plots: dict[str, PlotFiles]
    paraphrase: list[ParaphraseComparison] | None = None
    ablation: list[AblationSummary] | None = None
    placements: list[PlacementSummary] | None = None
    echo: list[EchoCheck] | None = None


# ---- settings, methods, sources ----------------------------------------------------------


class SettingsSummary(_Model):
    """Every knob that changes a number (:class:`lem.report.analysis.ReportSettings`)."""

    scorers: list[str]
    band: float
    seed: int
    top: int
    n_boot: int
    level: float
    alpha: float
    power: float
    all_samples: bool


class DeltasMethod(_Model):
    rounding_decimals: int
    band: float
    rule: str


class CIMethod(_Model):
    kind: str
    symmetric: bool
    resamples: int
    seed: int
    level: float
    small_n_below: int
    small_n_kind: str
    rule: str


class WilcoxonMethod(_Model):
    zero_method: str
    continuity_correction: bool
    exact_max_n: int
    permutation_max_n: int
    rule: str


class HolmMethod(_Model):
    family: str
    excludes: str
    alpha: float
    rule: str


class EffectSizesMethod(_Model):
    rule: str


class MDEMethod(_Model):
    test: str
    level: str
    power: float
    model: str
    simulations: int
    simulated_max_n: int
    rule: str


class ParaphraseMethod(_Model):
    """The paraphrase-robustness section's method (:mod:`lem.analysis.families`)."""

    unit: str
    interval: str
    resamples: int
    seed: int
    level: float
    band: float
    rule: str


class Methods(_Sections):
    """Every method and rule behind the numbers; each ``rule`` is the sentence
    ``report.md`` prints (``paraphrase`` only in a report with probe families)."""

    _optional: ClassVar[tuple[str, ...]] = ("paraphrase",)

    deltas: DeltasMethod
    ci: CIMethod
    wilcoxon: WilcoxonMethod
    holm: HolmMethod
    effect_sizes: EffectSizesMethod
    mde: MDEMethod
    paraphrase: ParaphraseMethod | None = None

    def rules(self) -> list[str]:
        """The rules, in the order ``report.md`` lists them."""
        entries = (self.deltas, self.ci, self.wilcoxon, self.holm, self.effect_sizes, self.mde)
        extra = [self.paraphrase.rule] if self.paraphrase is not None else []
        return [entry.rule for entry in entries] + extra


class SourceSummary(_Model):
    """Where a model's results came from (a file name, or the run id's source) and its
    lineage tags (``base`` on its own; the other tags as the mapping file gave them)."""

    model: str
    source: str
    run_id: str | None
    family: str | None
    version: str | None
    base: str | None
    tags: dict[str, Any]


class ReportSummary(_Model):
    """The whole report: ``summary.json``."""

    format: str
    title: str
    settings: SettingsSummary
    methods: Methods
    sources: list[SourceSummary]
    models: list[str]
    conditions: list[str]
    scorers: dict[str, ScorerSummary]
    notes: list[str]


# ---- before the statistics ---------------------------------------------------------------


class EarlyStats(_Model):
    """A comparison's mean Δ, known before the statistics."""

    mean_delta: float


class EarlyComparison(_Model):
    """A comparison before the statistics: its id, sides and mean Δ (None without probes)."""

    id: str
    kind: ComparisonKind
    model_b: str
    condition_b: str
    stats: EarlyStats | None


class EarlyScorer(_Model):
    """One scorer before the statistics: its models (descriptions not yet computed) and
    comparisons."""

    models: dict[str, ModelSummary]
    comparisons: list[EarlyComparison]


class EarlySummary(_Model):
    """What the figures that need no statistic are drawn from."""

    settings: SettingsSummary
    models: list[str]
    conditions: list[str]
    scorers: dict[str, EarlyScorer]
