"""The registry's plain-language explanations of the source document's mechanisms and pathway.

Written for this registry from `stem-cell-diabetes-treatment.txt` (the source document). The data
migration loads these texts once; afterwards the database holds them and curators edit them in
the admin. Slugs are part of the public contract.
"""

DOCUMENT_CAVEAT = (
    "The source document is plain about it: stem-cell therapy for diabetes “is still at the research and "
    "clinical trial stage and is not yet a mainstream treatment”, its safety and long-term effects “require "
    "additional clinical data to be validated”, and “it is therefore too early to say that stem cell therapy "
    "can ‘cure’ diabetes”."
)

MECHANISMS = [
    {
        "slug": "beta-cell-regeneration",
        "position": 1,
        "name": "Beta-cell regeneration and replacement",
        "document_term": "Insulin β-cell regeneration; cell integration",
        "summary": "New insulin-producing cells made from stem cells, or the body's own beta cells renewed.",
        "idea": (
            "Beta cells, in the islets of the pancreas, make insulin. In type 1 diabetes the immune system "
            "destroys them; in type 2 diabetes they wear out over the years. The first idea of the document is "
            "to make up for the loss: stem cells are grown in a laboratory and guided to become beta cells, or "
            "islet cells that behave like them, and are then put into the body. A second, older form of the idea "
            "is that stem cells given to a patient settle beside the remaining insulin cells (“cell "
            "integration”) and help them work or renew."
        ),
        "for_patients": (
            "If it worked, the body would again make its own insulin in answer to blood sugar: fewer or no "
            "insulin injections, fewer dangerous lows, steadier glucose. In the most advanced trials some people "
            "with type 1 diabetes have stopped insulin for a time after receiving laboratory-grown islet cells, "
            "but they take drugs that suppress the immune system so that the cells are not rejected, with the "
            "risks those drugs bring."
        ),
        "caveats": DOCUMENT_CAVEAT
        + (
            " Cells made from pluripotent stem cells carry risks of their own: cells that grow where they should "
            "not, and the side effects of the drugs that prevent rejection."
        ),
        "unproven": (
            "Whether laboratory-made beta cells keep working for many years; whether they can survive without "
            "lifelong immunosuppression (protective devices and gene-edited cells are being tested for this); "
            "whether stem cells that are not differentiated first ever become, or join, beta cells inside a "
            "person: this has not been shown. No such product is an approved treatment."
        ),
        "source_quote": (
            "Insulin β-cell regeneration: Diabetes, especially type 1 diabetes, is due to [...] the destruction "
            "of beta-celled insulin. The stem cell therapy can facilitate the regeneration of β-cells in insulin "
            "by: Cell integration: stem cells are integrated with existing insulin cells to enhance insulin cell "
            "functioning."
        ),
    },
    {
        "slug": "immune-regulation",
        "position": 2,
        "name": "Immune regulation",
        "document_term": "Immunisation regulation; promotion of immunosuppression",
        "summary": (
            "Calming the immune attack that destroys beta cells in type 1 diabetes, and helping the body "
            "accept transplanted cells."
        ),
        "idea": (
            "In type 1 diabetes the body's own immune system attacks the beta cells. Some stem cells, "
            "mesenchymal stromal cells above all, damp down immune reactions. The document's idea is that such "
            "cells could slow or stop the attack, so that a person keeps the beta cells they still have (most "
            "useful soon after diagnosis), and could help the body accept transplanted insulin cells instead of "
            "rejecting them. A different approach clears the immune system with strong drugs and rebuilds it "
            "from the patient's own blood stem cells, hoping to “reset” it."
        ),
        "for_patients": (
            "If it worked, someone diagnosed recently could keep more of their own insulin production for longer "
            "(measured as C-peptide), which makes diabetes easier to control; for transplanted cells it could "
            "mean less need for lifelong anti-rejection drugs."
        ),
        "caveats": DOCUMENT_CAVEAT
        + (
            " Resetting the immune system with chemotherapy carries serious risks, such as infections and "
            "infertility, and the benefits seen so far have often faded with time."
        ),
        "unproven": (
            "Whether the immune effects of infused cells last; who benefits; the right dose and timing; whether "
            "any of it prevents the complications of diabetes. Most trials are small and early (phase 1 or 2)."
        ),
        "source_quote": (
            "Immunisation regulation: In type 1 diabetes, self-immunisation response attacks β cells in insulin. "
            "The stem cells have immunosuppressive effects and can: Promotion of immunosuppressability: Helping "
            "the body to receive transplanted insulin cells and preventing exclusion."
        ),
    },
    {
        "slug": "angiogenesis",
        "position": 3,
        "name": "Angiogenesis (new blood vessels)",
        "document_term": "Promotion of angiogenesis",
        "summary": "New blood vessels: a better blood supply for the pancreas or for transplanted cells.",
        "idea": (
            "Insulin-making cells need a rich blood supply: to sense blood sugar, to get oxygen and to deliver "
            "insulin into the blood. The document says stem cells can promote angiogenesis, the growth of new "
            "small blood vessels, improving the blood supply of the pancreas and helping insulin cells survive "
            "and work. Transplanted islets lose many cells in their first days because they are cut off from "
            "blood vessels; some implanted devices are designed to let vessels grow in."
        ),
        "for_patients": (
            "It is rarely a treatment on its own. It is hoped to help the other approaches by keeping more "
            "transplanted or remaining insulin cells alive, so that a smaller dose of cells goes further."
        ),
        "caveats": DOCUMENT_CAVEAT
        + " The document names new vessel growth as something stem cells can promote, not as a proven benefit.",
        "unproven": (
            "How much new vessel growth infused stem cells cause in people, and whether it changes anything a "
            "patient would notice; most of the evidence comes from animal studies."
        ),
        "source_quote": (
            "Promotion of angiogenesis: stem cells can promote angiogenesis, improve the blood supply of pancreas "
            "and contribute to the survival and functioning of insulin cells."
        ),
    },
    {
        "slug": "trophic-support",
        "position": 4,
        "name": "Growth factors and support cells",
        "document_term": "Provision of growth factors and support cells",
        "summary": "Signals from stem cells that may help beta cells survive, work or regenerate.",
        "idea": (
            "Stem cells release many signalling molecules, growth factors and cytokines, that act on the cells "
            "around them (a “paracrine” or “trophic” effect). The document's idea is that these signals could "
            "help beta cells survive and work, or encourage them to regenerate, even when the stem cells "
            "themselves never become beta cells and do not stay in the body for long."
        ),
        "for_patients": (
            "If it worked, a person's remaining beta cells would last longer and work better. Many trials of "
            "mesenchymal stromal cells, in type 1 and in type 2 diabetes, rely on this idea, usually together "
            "with immune regulation."
        ),
        "caveats": DOCUMENT_CAVEAT
        + " The effects reported so far are modest and differ between trials and between patients.",
        "unproven": (
            "Which signals matter, how long their effect lasts once the cells are gone, and whether changes "
            "measured in trials (C-peptide, HbA1c, insulin dose) become lasting benefits."
        ),
        "source_quote": (
            "Provision of growth factors and support cells: stem cells can produce multiple growth factors and "
            "cell factors that support the survival and functioning of β-cells insulin or promote their "
            "regeneration."
        ),
    },
]

PATHWAY_STEPS = [
    {
        "slug": "preparation",
        "position": 1,
        "name": "Preparation: growing and guiding the cells",
        "summary": "Stem cells are grown in a laboratory and, in some trials, guided to become insulin-making cells.",
        "idea": (
            "Before anything reaches a patient, the cells are prepared outside the body (“in vitro”): grown to "
            "large numbers, and in some trials led step by step (“directed differentiation”) towards beta cells "
            "or islet-like cells."
        ),
        "for_patients": (
            "The patient may first give cells of their own (bone marrow, fat or blood), or receive cells from a "
            "donor or from a cell line. Preparation decides much of a therapy's promise and of its risks."
        ),
        "what_varies": (
            "The cell source (embryonic, induced pluripotent, mesenchymal from umbilical cord, bone marrow or "
            "fat, blood-forming stem cells, cord blood, bone-marrow mononuclear cells); whether the cells are the "
            "patient's own (autologous) or a donor's (allogeneic); how far they are differentiated: not at all, "
            "to progenitors meant to mature in the body, or fully to islet-like cells; whether they are "
            "gene-edited or enclosed in a device."
        ),
        "caveats": DOCUMENT_CAVEAT,
        "unproven": (
            "Which source and which stage of differentiation work best, and whether products can be made "
            "consistently and safely at scale."
        ),
        "source_quote": (
            "Treatment of stem cells: In vitro training and directional separation of stem cells into insulin "
            "beta cells or cells that function as insulin beta cells."
        ),
    },
    {
        "slug": "transplantation",
        "position": 2,
        "name": "Transplantation: giving the cells",
        "summary": "The prepared cells are given to the patient: into a vein, into the pancreas, or elsewhere.",
        "idea": (
            "The document names two routes: an intravenous injection, and a direct injection into the pancreas. "
            "Real trials use several more, each chosen to bring the cells where they can survive and act."
        ),
        "for_patients": (
            "An intravenous infusion is like a drip. Other routes need a catheter threaded through an artery, a "
            "procedure to reach the liver's portal vein, or minor surgery to implant a device, each with its own "
            "risks."
        ),
        "what_varies": (
            "The route: intravenous infusion; direct injection into the pancreas; a catheter into the "
            "pancreatic artery; the hepatic portal vein (into the liver, as for islet transplants); a device "
            "implanted under the skin or in the abdominal wall; beneath a muscle; on the omentum; or blood "
            "treated outside the body and returned. Also the dose and the number of doses."
        ),
        "caveats": DOCUMENT_CAVEAT,
        "unproven": "Which route keeps the most cells alive and working, and for how long.",
        "source_quote": (
            "Transplantation of stem cells: Transplantation of treated stem cells to patients by intravenous "
            "injection or direct injection into pancreas."
        ),
    },
    {
        "slug": "monitoring",
        "position": 3,
        "name": "Monitoring and adjustment",
        "summary": "After the cells are given, patients are followed for years, some with immunosuppressive drugs.",
        "idea": (
            "After transplantation the document foresees long-term monitoring, with immunosuppressive or other "
            "supporting treatment where needed, to protect the cells and to catch harm early."
        ),
        "for_patients": (
            "Regular visits and tests for years. Some therapies need drugs that suppress the immune system, for "
            "a short course or for life; these raise the risk of infections and some cancers."
        ),
        "what_varies": (
            "How long participants are followed; immunosuppression: none, a short course or conditioning, or "
            "chronic; what is measured (C-peptide, HbA1c, insulin dose, severe lows, side effects)."
        ),
        "caveats": DOCUMENT_CAVEAT,
        "unproven": "The long-term safety and benefit of every approach: follow-up so far is short.",
        "source_quote": (
            "Monitoring and adjustment: Following transplantation, patients are monitored on a long-term basis "
            "with immunosuppressive or other support treatment if necessary."
        ),
    },
]
