"""Why a paper is recommended, in words: the model's strongest features (``recommend.TagModel.top_terms``) are
words, author tokens (``author:yann_lecun``) and arXiv categories (``category:cs.cl``); a reader sees
"by Yann LeCun", "in Computation and Language (cs.CL)", never the tokens."""

from __future__ import annotations

# arXiv's own names (https://arxiv.org/category_taxonomy) of the categories the bundled data and the usual
# computer-science feeds hold; a category not listed is named by its code.
ARXIV_CATEGORIES = {
    "cs.AI": "Artificial Intelligence", "cs.AR": "Hardware Architecture", "cs.CC": "Computational Complexity",
    "cs.CE": "Computational Engineering, Finance, and Science", "cs.CG": "Computational Geometry",
    "cs.CL": "Computation and Language", "cs.CR": "Cryptography and Security",
    "cs.CV": "Computer Vision and Pattern Recognition", "cs.CY": "Computers and Society", "cs.DB": "Databases",
    "cs.DC": "Distributed, Parallel, and Cluster Computing", "cs.DL": "Digital Libraries",
    "cs.DM": "Discrete Mathematics", "cs.DS": "Data Structures and Algorithms",
    "cs.ET": "Emerging Technologies", "cs.FL": "Formal Languages and Automata Theory",
    "cs.GL": "General Literature", "cs.GR": "Graphics", "cs.GT": "Computer Science and Game Theory",
    "cs.HC": "Human-Computer Interaction", "cs.IR": "Information Retrieval", "cs.IT": "Information Theory",
    "cs.LG": "Machine Learning", "cs.LO": "Logic in Computer Science", "cs.MA": "Multiagent Systems",
    "cs.MM": "Multimedia", "cs.MS": "Mathematical Software", "cs.NA": "Numerical Analysis",
    "cs.NE": "Neural and Evolutionary Computing", "cs.NI": "Networking and Internet Architecture",
    "cs.OH": "Other Computer Science", "cs.OS": "Operating Systems", "cs.PF": "Performance",
    "cs.PL": "Programming Languages", "cs.RO": "Robotics", "cs.SC": "Symbolic Computation", "cs.SD": "Sound",
    "cs.SE": "Software Engineering", "cs.SI": "Social and Information Networks", "cs.SY": "Systems and Control",
    "econ.EM": "Econometrics", "econ.GN": "General Economics", "econ.TH": "Theoretical Economics",
    "eess.AS": "Audio and Speech Processing", "eess.IV": "Image and Video Processing",
    "eess.SP": "Signal Processing", "eess.SY": "Systems and Control",
    "math.AT": "Algebraic Topology", "math.CO": "Combinatorics", "math.DG": "Differential Geometry",
    "math.IT": "Information Theory", "math.LO": "Logic", "math.NA": "Numerical Analysis",
    "math.OC": "Optimization and Control", "math.PR": "Probability", "math.ST": "Statistics Theory",
    "physics.chem-ph": "Chemical Physics", "physics.comp-ph": "Computational Physics",
    "physics.data-an": "Data Analysis, Statistics and Probability", "physics.med-ph": "Medical Physics",
    "physics.optics": "Optics", "physics.soc-ph": "Physics and Society",
    "cond-mat.mtrl-sci": "Materials Science", "cond-mat.stat-mech": "Statistical Mechanics",
    "q-bio.NC": "Neurons and Cognition", "q-bio.QM": "Quantitative Methods", "q-bio.TO": "Tissues and Organs",
    "q-fin.TR": "Trading and Market Microstructure", "quant-ph": "Quantum Physics",
    "stat.AP": "Applications", "stat.CO": "Computation", "stat.ME": "Methodology", "stat.ML": "Machine Learning",
    "stat.TH": "Statistics Theory",
}
_BY_LOWER = {code.lower(): code for code in ARXIV_CATEGORIES}


def category_words(code: str) -> str:
    """``cs.cl`` -> ``Computation and Language (cs.CL)``; an unknown code as the arXiv category it is."""
    proper = _BY_LOWER.get(code.lower())
    if proper is None:
        return f"the arXiv category {code}"
    return f"{ARXIV_CATEGORIES[proper]} ({proper})"


def _series(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def reason_in_words(tag: str, features: list[str], closest: str = "") -> str:
    """One sentence from a recommendation's strongest features (raw model tokens) and its closest saved paper."""
    words, authors, categories = [], [], []
    for feature in features:
        if feature.startswith("author:"):
            authors.append(feature[7:].replace("_", " ").title())
        elif feature.startswith("category:"):
            categories.append(category_words(feature[9:]))
        else:
            words.append(f"“{feature}”")
    parts = []
    if words:
        parts.append(("the words " if len(words) > 1 else "the word ") + _series(words))
    if authors:
        parts.append(f"papers by {_series(authors)}, whose work you saved there")
    if categories:
        parts.append(f"papers in {_series(categories)}, which you save often")
    reason = (f"matches your '{tag}' papers on " + "; ".join(parts)) if parts else f"like your '{tag}' papers"
    if closest:
        reason += f". Closest saved paper: {closest}"
    return reason
