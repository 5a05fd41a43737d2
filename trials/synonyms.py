"""The field's abbreviations, synonyms and spellings that the public search treats as one (trials/search.py).

Each group is a set of equivalent phrases, written in lower case, one word per space: a reader's query that
contains any phrase of a group matches a trial that says any other phrase of that group. So every group works
both ways (MSC finds "mesenchymal", "mesenchymal" finds MSC). Words are stemmed by the search engines after
this (islets = islet, encapsulated = encapsulation), so plurals and endings need no entry. A hyphen or slash
counts as a space ("UC-MSC" is "uc msc").

To add a synonym: add its phrase to the group it belongs to, or a new group, and a query to tests/relevance.json
that needs it. Keep groups narrow: every phrase of a group widens every query that names any of them.
"""

GROUPS: list[tuple[str, ...]] = [
    # Cells
    ("msc", "mscs", "mesenchymal"),
    ("uc msc", "uc mscs", "ucmsc", "umbilical cord mesenchymal", "umbilical cord derived mesenchymal"),
    ("wj msc", "wj mscs", "wjmsc", "wharton s jelly", "wharton jelly"),
    ("ad msc", "adipose derived mesenchymal", "adipose derived stem", "adipose derived stromal"),
    ("bm msc", "bone marrow mesenchymal", "bone marrow derived mesenchymal"),
    ("ipsc", "ipscs", "ips cells", "ips cell", "hipsc", "induced pluripotent"),
    ("esc", "escs", "hesc", "hescs", "embryonic stem"),
    ("psc", "pscs", "pluripotent stem"),
    ("hsc", "hscs", "haematopoietic stem", "hematopoietic stem"),
    ("bm mnc", "bone marrow mononuclear"),
    ("treg", "tregs", "regulatory t"),
    # Treatments and devices
    (
        "hsct",
        "ahst",
        "ahsct",
        "haematopoietic stem cell transplantation",
        "hematopoietic stem cell transplantation",
        "haematopoietic stem cell transplant",
        "hematopoietic stem cell transplant",
    ),
    ("encapsulated", "encapsulation", "encapsulating", "macroencapsulation", "macroencapsulated", "device"),
    ("iv", "intravenous", "intravenously"),
    # Diabetes and its measures
    ("newly diagnosed", "new onset", "newly onset", "recently diagnosed", "recent onset", "early onset"),
    ("t1d", "t1dm", "type 1 diabetes", "type 1", "type i diabetes", "type one diabetes"),
    ("t2d", "t2dm", "type 2 diabetes", "type 2", "type ii diabetes", "type two diabetes"),
    ("lada", "latent autoimmune diabetes"),
    ("hba1c", "a1c", "glycated haemoglobin", "glycated hemoglobin", "glycosylated haemoglobin"),
    ("dfu", "diabetic foot ulcer", "diabetic foot ulcers"),
    ("cli", "critical limb ischaemia", "critical limb ischemia"),
    # British and American spellings
    ("haematopoietic", "hematopoietic"),
    ("hypoglycaemia", "hypoglycemia"),
    ("hypoglycaemic", "hypoglycemic"),
    ("hyperglycaemia", "hyperglycemia"),
    ("glycaemic", "glycemic"),
    ("haemoglobin", "hemoglobin"),
    ("ischaemia", "ischemia"),
    ("ischaemic", "ischemic"),
    ("randomised", "randomized"),
    ("paediatric", "pediatric"),
    ("oedema", "edema"),
    ("tumour", "tumor"),
    ("centre", "center"),
    ("programme", "program"),
    ("organisation", "organization"),
    ("characterisation", "characterization"),
    ("immunisation", "immunization"),
    ("anaemia", "anemia"),
    ("leukaemia", "leukemia"),
    ("oesophageal", "esophageal"),
]
