"""Builds the acceptance scenarios (CDS Hooks 2.0 request + expectation) as JSON files.

Written blind to the implementation, from ../shared/knowledge/clinical-rules.md (§7 over §1, §3, §4).
Dates are relative to NOW (2026-06-01T12:00:00Z); every file carries
extension["org.bonemets-cds.fixture"]["asOf"] and test_blind_acceptance.py pins the clock to it.

    python tests/acceptance/build_scenarios.py   # (re)writes tests/acceptance/scenarios/*.json
"""
from __future__ import annotations

import base64
import itertools
import json
import pathlib
import uuid
from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OUT = pathlib.Path(__file__).parent / "scenarios"

SCT = "http://snomed.info/sct"
LNC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXN = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
OBSCAT = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

_ids = itertools.count(1)


def d(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%d")


def nid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def cc(*codings, text=None):
    out = {"coding": [{"system": s, "code": c, "display": disp} for s, c, disp in codings]}
    if text:
        out["text"] = text
    return out


class Chart:
    def __init__(self, pid: str):
        self.pid = pid
        self.keys = {k: [] for k in (
            "conditions", "labs", "symptomObservations", "imagingReports", "imagingObservations",
            "imagingStudies", "medicationRequests", "medicationAdministrations", "medicationStatements",
            "procedures", "tumorMarkers")}
        self.patient = {
            "resourceType": "Patient", "id": pid, "active": True,
            "name": [{"family": "Testpatient", "given": [pid.title()]}],
            "gender": "female", "birthDate": "1968-04-12",
        }

    @property
    def subj(self):
        return {"reference": f"Patient/{self.pid}"}

    # ---------- conditions
    def cond(self, codings, text, onset_days, *, status="active", category="problem-list-item",
             verification="confirmed", abated_days=None, body_site=None, recorded_days=None):
        r = {"resourceType": "Condition", "id": nid("cond"),
             "clinicalStatus": cc((CLIN, status, status)),
             "verificationStatus": cc((VER, verification, verification)),
             "category": [cc(("http://terminology.hl7.org/CodeSystem/condition-category", category, category))],
             "code": cc(*codings, text=text), "subject": self.subj,
             "onsetDateTime": d(onset_days),
             "recordedDate": d(onset_days if recorded_days is None else recorded_days)}
        if abated_days is not None:
            r["abatementDateTime"] = d(abated_days)
        if body_site:
            r["bodySite"] = [cc(*body_site)]
        self.keys["conditions"].append(r)
        return r

    def breast_cancer(self, onset_days=120):
        return self.cond([(ICD, "C50.912", "Malignant neoplasm of unspecified site of left female breast"),
                          (SCT, "254837009", "Malignant neoplasm of breast")],
                         "Invasive ductal carcinoma, left breast", onset_days)

    def bone_mets(self, onset_days=200, site=None, status="active"):
        return self.cond([(ICD, "C79.51", "Secondary malignant neoplasm of bone"),
                          (SCT, "94222008", "Secondary malignant neoplasm of bone")],
                         "Bone metastases", onset_days, status=status, body_site=site)

    def background(self):
        self.cond([(ICD, "I10", "Essential (primary) hypertension"), (SCT, "38341003", "Hypertensive disorder")],
                  "Hypertension", 3000)
        self.cond([(ICD, "E03.9", "Hypothyroidism, unspecified"), (SCT, "40930008", "Hypothyroidism")],
                  "Hypothyroidism", 2500)
        self.cond([(ICD, "E78.5", "Hyperlipidemia, unspecified"), (SCT, "55822004", "Hyperlipidemia")],
                  "Hyperlipidaemia", 2000)

    # ---------- labs
    def lab(self, loinc, display, value, unit, days_ago, *, low=None, high=None, interp=None, key="labs"):
        r = {"resourceType": "Observation", "id": nid("lab"), "status": "final",
             "category": [cc((OBSCAT, "laboratory", "Laboratory"))],
             "code": cc((LNC, loinc, display), text=display), "subject": self.subj,
             "effectiveDateTime": d(days_ago), "issued": d(days_ago - 0.1),
             "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}
        rr = {}
        if low is not None:
            rr["low"] = {"value": low, "unit": unit}
        if high is not None:
            rr["high"] = {"value": high, "unit": unit}
        if rr:
            r["referenceRange"] = [rr]
        if interp:
            r["interpretation"] = [cc((INTERP, interp, interp))]
        self.keys[key].append(r)
        return r

    def egfr(self, value, days_ago=3):
        return self.lab("98979-8", "eGFR CKD-EPI 2021", value, "mL/min/{1.73_m2}", days_ago, low=60,
                        interp="L" if value < 60 else None)

    def routine_labs(self, days_ago=4, egfr=88, alp=85, alt=22, ast=24, ca=9.4, alb=4.1, with_egfr=True):
        self.lab("718-7", "Hemoglobin [Mass/volume] in Blood", 12.1, "g/dL", days_ago, low=12, high=15.5)
        self.lab("2160-0", "Creatinine [Mass/volume] in Serum or Plasma",
                 round(0.7 * 88 / max(egfr, 5), 2), "mg/dL", days_ago, low=0.5, high=1.1,
                 interp="H" if egfr < 60 else None)
        if with_egfr:
            self.egfr(egfr, days_ago)
        self.lab("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", alp, "U/L",
                 days_ago, low=35, high=120, interp="H" if alp > 120 else None)
        self.lab("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", alt, "U/L",
                 days_ago, low=7, high=35, interp="H" if alt > 35 else None)
        self.lab("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", ast, "U/L",
                 days_ago, low=10, high=35, interp="H" if ast > 35 else None)
        self.lab("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", 0.6, "mg/dL", days_ago,
                 low=0.1, high=1.2)
        self.lab("17861-6", "Calcium [Mass/volume] in Serum or Plasma", ca, "mg/dL", days_ago, low=8.6, high=10.3,
                 interp="H" if ca > 10.3 else ("L" if ca < 8.6 else None))
        self.lab("1751-7", "Albumin [Mass/volume] in Serum or Plasma", alb, "g/dL", days_ago, low=3.5, high=5.2,
                 interp="L" if alb < 3.5 else ("H" if alb > 5.2 else None))

    def receptors(self, er="pos", pr="pos", her2="neg", days_ago=130):
        ans = {"pos": ("LA6576-8", "Positive"), "neg": ("LA6577-6", "Negative")}
        for loinc, disp, v in (("85337-4", "Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain", er),
                               ("85339-0", "Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain", pr),
                               ("48676-1", "HER2 [Interpretation] in Tissue", her2)):
            self.keys["tumorMarkers"].append({
                "resourceType": "Observation", "id": nid("tm"), "status": "final",
                "category": [cc((OBSCAT, "laboratory", "Laboratory"))],
                "code": cc((LNC, loinc, disp)), "subject": self.subj, "effectiveDateTime": d(days_ago),
                "valueCodeableConcept": cc((LNC, ans[v][0], ans[v][1]))})

    # ---------- symptoms as Observation
    def symptom_obs(self, codings, text, days_ago):
        self.keys["symptomObservations"].append({
            "resourceType": "Observation", "id": nid("sym"), "status": "final",
            "category": [cc((OBSCAT, "exam", "Exam"))], "code": cc(*codings, text=text),
            "subject": self.subj, "effectiveDateTime": d(days_ago), "valueBoolean": True})

    # ---------- imaging
    def imaging(self, kind, days_ago, conclusion=None, *, status="final", conclusion_codes=None,
                presented=None, findings=None, obs=None):
        kinds = {
            "bonescan": ("NM", [(LNC, "39818-0", "NM Whole body Bone Views"), (CPT, "78306", "Bone and/or joint imaging; whole body")], "NM whole body bone scan"),
            "ctcap": ("CT", [(LNC, "72254-6", "CT Chest and Abdomen and Pelvis W contrast IV")], "CT chest/abdomen/pelvis with IV contrast"),
            "ctcap_noiv": ("CT", [(LNC, "72253-8", "CT Chest and Abdomen and Pelvis WO contrast")], "CT chest/abdomen/pelvis without contrast"),
            "petct": ("PT", [(LNC, "81554-8", "PET+CT Guidance for localization of tumor of Skull base to mid-thigh-- W 18F-FDG IV"), (CPT, "78815", "PET/CT skull base to mid-thigh")], "FDG PET/CT skull base to mid-thigh"),
            "mri_lspine": ("MR", [(LNC, "24967-2", "MR Lumbar spine WO and W contrast IV"), (CPT, "72158", "MRI lumbar spine w/o & w contrast")], "MRI lumbar spine without and with contrast"),
            "mri_tspine": ("MR", [(CPT, "72157", "MRI thoracic spine w/o & w contrast")], "MRI thoracic spine without and with contrast"),
            "mri_brain": ("MR", [(LNC, "24587-8", "MR Brain WO and W contrast IV"), (CPT, "70553", "MRI brain w/o & w contrast")], "MRI brain without and with contrast"),
            "ct_tspine": ("CT", [(CPT, "72128", "CT thoracic spine without contrast")], "CT thoracic spine"),
        }
        modality, codings, text = kinds[kind]
        sid = nid("study")
        study = {"resourceType": "ImagingStudy", "id": sid, "status": "available", "subject": self.subj,
                 "started": d(days_ago), "modality": [{"system": DCM, "code": modality}],
                 "procedureCode": [cc(*codings, text=text)], "description": text}
        if modality == "PT":
            study["modality"].append({"system": DCM, "code": "CT"})
        self.keys["imagingStudies"].append(study)
        rep = {"resourceType": "DiagnosticReport", "id": nid("dr"), "status": status,
               "category": [cc(("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD", "Radiology"))],
               "code": cc(*codings, text=text), "subject": self.subj, "effectiveDateTime": d(days_ago),
               "issued": d(days_ago - 0.2), "imagingStudy": [{"reference": f"ImagingStudy/{sid}"}]}
        if conclusion is not None:
            rep["conclusion"] = conclusion
        if conclusion_codes:
            rep["conclusionCode"] = [cc(*conclusion_codes)]
        if presented is not None:
            rep["presentedForm"] = [presented]
        elif findings or conclusion:
            body = f"EXAM: {text}\nFINDINGS: {findings or ''}\nIMPRESSION: {conclusion or ''}"
            rep["presentedForm"] = [{"contentType": "text/plain", "data": base64.b64encode(body.encode()).decode()}]
        self.keys["imagingReports"].append(rep)
        if obs:
            o = {"resourceType": "Observation", "id": nid("io"), "status": "final",
                 "category": [cc((OBSCAT, "imaging", "Imaging"))], "subject": self.subj,
                 "effectiveDateTime": d(days_ago), "derivedFrom": [{"reference": f"ImagingStudy/{sid}"}]}
            o.update(obs)
            self.keys["imagingObservations"].append(o)
        return rep

    # ---------- medications
    def admin(self, rx, display, days_ago, dose=None):
        r = {"resourceType": "MedicationAdministration", "id": nid("ma"), "status": "completed",
             "medicationCodeableConcept": cc((RXN, rx, display), text=display), "subject": self.subj,
             "effectiveDateTime": d(days_ago)}
        if dose:
            r["dosage"] = {"dose": dose}
        self.keys["medicationAdministrations"].append(r)
        return r

    def medreq(self, rx, display, authored_days, *, status="active", start_days=None, text=None, dose=None):
        r = {"resourceType": "MedicationRequest", "id": nid("mr"), "status": status, "intent": "order",
             "medicationCodeableConcept": cc((RXN, rx, display), text=text or display), "subject": self.subj,
             "authoredOn": d(authored_days)}
        di = {"text": text or display}
        if start_days is not None:
            di["timing"] = {"repeat": {"boundsPeriod": {"start": d(start_days)}}}
        if dose:
            di["doseAndRate"] = [{"doseQuantity": dose}]
        r["dosageInstruction"] = [di]
        self.keys["medicationRequests"].append(r)
        return r

    def statement(self, rx, display, start_days, status="active"):
        self.keys["medicationStatements"].append({
            "resourceType": "MedicationStatement", "id": nid("ms"), "status": status,
            "medicationCodeableConcept": cc((RXN, rx, display), text=display), "subject": self.subj,
            "effectivePeriod": {"start": d(start_days)}})

    def home_meds(self):
        self.statement("314076", "lisinopril 10 MG Oral Tablet", 2500)
        self.statement("966247", "levothyroxine sodium 0.1 MG Oral Tablet", 2400)
        self.statement("617310", "atorvastatin 20 MG Oral Tablet", 1900)

    def ac_chemo(self, start_days, last_days, every=14):
        """Dose-dense AC: doxorubicin + cyclophosphamide administrations from start to last."""
        self.medreq("1790099", "10 ML Doxorubicin Hydrochloride 2 MG/ML Injection", start_days + 2,
                    status="active", start_days=start_days)
        self.medreq("1734919", "Cyclophosphamide 1000 MG Injection", start_days + 2, status="active",
                    start_days=start_days)
        t = start_days
        while t >= last_days:
            self.admin("1790099", "10 ML Doxorubicin Hydrochloride 2 MG/ML Injection", t)
            self.admin("1734919", "Cyclophosphamide 1000 MG Injection", t)
            t -= every

    def procedure(self, codings, text, days_ago):
        self.keys["procedures"].append({
            "resourceType": "Procedure", "id": nid("proc"), "status": "completed",
            "code": cc(*codings, text=text), "subject": self.subj, "performedDateTime": d(days_ago)})

    def core_biopsy(self, days_ago=125):
        self.procedure([(SCT, "773701006", "Core needle biopsy of breast")], "US-guided core biopsy left breast",
                       days_ago)

    def prefetch(self):
        out = {"patient": self.patient}
        for k, res in self.keys.items():
            out[k] = {"resourceType": "Bundle", "type": "searchset", "total": len(res),
                      "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}}
                                for r in res]}
        return out


# ---------------------------------------------------------------- draft orders
ORDERS = {
    "bonescan": ([(CPT, "78306", "Bone and/or joint imaging; whole body"), (LNC, "39818-0", "NM Whole body Bone Views")], "Bone scan whole body"),
    "mri_chest": ([(CPT, "71552", "MRI chest without and with contrast")], "MRI chest without and with contrast"),
    "ct_chest_noiv": ([(CPT, "71250", "CT thorax without contrast")], "CT chest without contrast"),
    "ct_ap_noiv": ([(CPT, "74176", "CT abdomen and pelvis without contrast")], "CT abdomen and pelvis without contrast"),
    "ct_chest_iv": ([(CPT, "71260", "CT thorax with contrast")], "CT chest with contrast"),
    "ct_ap_iv": ([(CPT, "74177", "CT abdomen and pelvis with contrast")], "CT abdomen and pelvis with contrast"),
    "ct_neck_iv": ([(CPT, "70491", "CT soft tissue neck with contrast")], "CT neck with contrast"),
    "ct_head_iv": ([(CPT, "70460", "CT head/brain with contrast")], "CT head with contrast"),
    "xr_survey": ([(CPT, "77075", "Radiologic examination, osseous survey; complete")], "Skeletal survey complete"),
    "petct": ([(CPT, "78815", "PET/CT skull base to mid-thigh"), (LNC, "81554-8", "PET+CT skull base to mid-thigh W 18F-FDG IV")], "FDG PET/CT skull base to mid-thigh"),
}


def draft(pid, kind, reason=None):
    codings, text = ORDERS[kind]
    r = {"resourceType": "ServiceRequest", "id": nid("sr"), "status": "draft", "intent": "order",
         "category": [cc((SCT, "363679005", "Imaging"))],
         "code": cc(*codings, text=text), "subject": {"reference": f"Patient/{pid}"}, "authoredOn": d(0)}
    if reason:
        r["reasonCode"] = [cc(*reason)]
    return r


def request(chart: Chart, hook: str, drafts=None, selections=None):
    ctx = {"userId": "Practitioner/dr-onc-1", "patientId": chart.pid, "encounterId": "enc-77"}
    if hook in ("order-select", "order-sign"):
        ctx["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                              "entry": [{"resource": r} for r in drafts]}
        if hook == "order-select":
            ctx["selections"] = selections or [f"{r['resourceType']}/{r['id']}" for r in drafts]
    return {"hook": hook, "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"acc-{chart.pid}-{next(_ids)}")), "context": ctx,
            "prefetch": chart.prefetch(),
            "extension": {"org.bonemets-cds.fixture": {"asOf": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}}}


SCENARIOS = []


def scenario(name, hook, chart, *, present=(), absent=(), drafts=None, checks=(), rule="", note=""):
    SCENARIOS.append({
        "name": name, "service": f"bone-mets-imaging-{hook}", "rule": rule, "note": note,
        "expect": {"present": list(present), "absent": list(absent), "checks": list(checks)},
        "request": request(chart, hook, drafts),
    })


def base(pid, *, egfr=88, alp=85, alt=22, ast=24, ca=9.4, alb=4.1, receptors=("pos", "pos", "neg"), bc_onset=420):
    c = Chart(pid)
    c.breast_cancer(bc_onset)
    c.background()
    c.home_meds()
    c.routine_labs(egfr=egfr, alp=alp, alt=alt, ast=ast, ca=ca, alb=alb)
    c.lab("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", 78, "U/L", 95, low=35, high=120)
    c.receptors(*receptors, days_ago=bc_onset - 5)
    c.core_biopsy(bc_onset - 5)
    return c


NEG_BS = "No scintigraphic evidence of osseous metastatic disease. Mild degenerative uptake at both knees."
XGEVA = ("1657999", "denosumab 120 MG in 1.7 ML Injection [Xgeva]")  # product code: UNVERIFIED; name carries it


def build():
    # ================================================================ FLARE / PROGRESSION (R13, R27, §7.2)
    c = base("flare1", bc_onset=90)
    c.ac_chemo(start_days=45, last_days=3)
    c.cond([(SCT, "12584003", "Bone pain")], "Bone pain, thoracic spine and ribs", 20)
    c.imaging("bonescan", 4, "Multiple new foci of intense radiotracer uptake in the thoracic spine, ribs and pelvis, "
              "consistent with osseous metastatic disease.",
              findings="No prior bone scan available for comparison. Foci at T6, T9, L2, right 5th and 7th ribs, left iliac bone.")
    scenario("flare_first_positive_scan_during_new_line", "patient-view", c,
             present=["progression-not-flare"], absent=["bone-scan-flare"], rule="§7.2 R13, §7.3 R27",
             note="First-ever positive bone scan 41 d into AC; no bone mets known before the line.")

    c = base("flare2", bc_onset=700)
    c.bone_mets(400)
    c.imaging("bonescan", 400, "Osseous metastases in T8 and L1 and the left 6th rib.")
    c.medreq("1601380", "palbociclib 125 MG Oral Capsule", 62, start_days=60)
    c.medreq("727762", "5 ML fulvestrant 50 MG/ML Prefilled Syringe", 62, start_days=60)
    c.admin("727762", "5 ML fulvestrant 50 MG/ML Prefilled Syringe", 60)
    c.admin("727762", "5 ML fulvestrant 50 MG/ML Prefilled Syringe", 46)
    c.admin("727762", "5 ML fulvestrant 50 MG/ML Prefilled Syringe", 32)
    c.admin("727762", "5 ML fulvestrant 50 MG/ML Prefilled Syringe", 4)
    c.admin(*XGEVA, 30, dose={"value": 120, "unit": "mg"})
    c.imaging("ctcap", 6, "New hypodense lesions in hepatic segments VI and VIII, consistent with hepatic metastases. "
              "Known sclerotic osseous metastases are unchanged.")
    c.imaging("bonescan", 3, "Increased uptake in the known lesions at T8 and L1 and two new foci in the right 4th rib and sacrum.")
    scenario("flare_window_ct_new_liver_mets", "patient-view", c,
             present=["progression-not-flare"], absent=["bone-scan-flare"], rule="§7.2 R13, R27",
             note="Known bone mets, new line 60 d ago; CT in window shows new liver metastases.")

    c = base("flare3", bc_onset=700)
    c.bone_mets(300)
    c.imaging("bonescan", 300, "Osseous metastases at T10, L3 and right iliac bone.")
    c.imaging("ctcap", 298, "Lytic metastases at T10, L3 and the right iliac bone. No visceral metastases.")
    c.cond([(SCT, "12584003", "Bone pain")], "Bone pain lower back", 70, status="resolved", abated_days=15)
    c.medreq("1601380", "palbociclib 125 MG Oral Capsule", 52, start_days=50)
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 52, start_days=50)
    c.admin(*XGEVA, 20, dose={"value": 120, "unit": "mg"})
    c.lab("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", 190, "U/L", 55, low=35, high=120, interp="H")
    c.imaging("ctcap", 7, "Previously lytic lesions at T10, L3 and right iliac bone are now sclerotic, consistent with treatment response. "
              "No new lesions. No visceral metastases.")
    c.imaging("bonescan", 5, "Increased radiotracer uptake at the known sites T10, L3 and right iliac bone compared with the prior study. "
              "No new lesions.")
    scenario("genuine_flare_known_mets_improving", "patient-view", c,
             present=["bone-scan-flare"], absent=["progression-not-flare", "indeterminate-focus-correlative-imaging"],
             rule="§1 R13 + §7.2; §1 R12 (no indeterminate/equivocal/solitary focus: increased uptake at named known sites)",
             note="Known bone mets before line (day -300), new line day -50, pain resolved, CT sclerosis of lytic lesions.")

    c = base("flare4", bc_onset=700)
    c.bone_mets(300)
    c.imaging("bonescan", 300, "Osseous metastases at T10 and L3.")
    c.medreq("1601380", "palbociclib 125 MG Oral Capsule", 47, start_days=45)
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 47, start_days=45)
    c.admin(*XGEVA, 20, dose={"value": 120, "unit": "mg"})
    c.imaging("ctcap", 8, "New lytic lesion in the left iliac bone and enlarging lytic lesion at T10, consistent with progressive osseous metastatic disease.")
    c.imaging("bonescan", 6, "Increased uptake at T10 and L3 and a new focus in the left iliac bone.")
    scenario("flare_window_ct_new_lytic_lesions", "patient-view", c,
             present=["progression-not-flare"], absent=["bone-scan-flare", "indeterminate-focus-correlative-imaging"],
             rule="§7.2 R13 (MDA progressive disease on CT); §1 R12 (the new iliac focus is characterised by the CT)")

    # ================================================================ DISCORDANCE / EVIDENCE (R08, §7.1)
    c = base("disc1")
    c.cond([(SCT, "12584003", "Bone pain")], "Low back pain", 25)
    c.imaging("ctcap", 20, "5 mm sclerotic focus in the L2 vertebral body, likely a bone island. No evidence of metastatic disease in chest, abdomen or pelvis.")
    c.imaging("bonescan", 10, NEG_BS)
    scenario("bone_island_ct_negative_bone_scan", "patient-view", c,
             checks=["notext:(?<!not )(treat|manage)[^.]{0,30}as metastatic|trust the CT"],
             absent=["discordant-ct-positive-bone-scan-negative", "bone-mets-no-bma", "orthopedic-evaluation"],
             rule="§7.1 benign explanation; §7.2 R08")

    c = base("disc2")
    c.imaging("ctcap", 21, "8 mm sclerotic focus in the right iliac bone. No visceral abnormality.")
    c.imaging("bonescan", 9, NEG_BS)
    scenario("sclerotic_focus_uninterpreted_negative_bone_scan", "patient-view", c,
             checks=["notext:(?<!not )(treat|manage)[^.]{0,30}as metastatic|trust the CT"],
             present=["indeterminate-focus-correlative-imaging"],
             absent=["discordant-ct-positive-bone-scan-negative", "bone-mets-no-bma"],
             rule="§7.1 morphology alone = indeterminate; §7.2 R08 (indeterminate-focus advice instead)")

    c = base("disc3")
    c.cond([(SCT, "12584003", "Bone pain")], "Mid-back pain", 30)
    c.imaging("ctcap", 18, "Lytic lesion in the T11 vertebral body, consistent with metastasis. No visceral metastases.")
    c.imaging("bonescan", 6, NEG_BS)
    scenario("ct_lytic_metastasis_negative_bone_scan", "patient-view", c,
             present=["discordant-ct-positive-bone-scan-negative", "bone-mets-no-bma"],
             rule="§1 R08, §7.2 R08; §7.1 established by metastatic reading (neg bone scan does not supersede)")

    c = base("disc4")
    c.imaging("ctcap", 22, "Suspicious lytic lesion in the left iliac wing, 14 mm. Liver and lungs clear.")
    c.imaging("bonescan", 8, NEG_BS)
    scenario("ct_suspicious_lytic_negative_bone_scan", "patient-view", c,
             present=["discordant-ct-positive-bone-scan-negative"], rule="§7.2 R08 (suspicious lytic counts)")

    c = base("disc5")
    c.imaging("ctcap", 200, "Indeterminate 9 mm lesion in the L3 vertebral body, suspicious for metastasis. Recommend MRI.")
    c.imaging("mri_lspine", 185, "The L3 lesion is a bone island. No marrow replacement. No evidence of metastatic disease.")
    c.imaging("ctcap", 20, "No evidence of metastatic disease. Stable L3 bone island.")
    scenario("old_suspicion_superseded_by_mri_bone_island", "patient-view", c,
             absent=["bone-mets-no-bma", "discordant-ct-positive-bone-scan-negative", "orthopedic-evaluation"],
             rule="§7.1 later supersedes earlier; §7.2 R15")

    c = base("disc6")
    c.imaging("petct", 25, "Diffuse symmetric sclerosis of the axial skeleton without focal FDG avidity; differential includes sarcoidosis. "
              "Mediastinal and hilar lymphadenopathy with symmetric uptake, consistent with sarcoidosis.")
    c.imaging("bonescan", 12, NEG_BS)
    scenario("pet_diffuse_sclerosis_sarcoid_negative_bone_scan", "patient-view", c,
             checks=["notext:(?<!not )(treat|manage)[^.]{0,30}as metastatic|trust the CT"],
             absent=["discordant-ct-positive-bone-scan-negative", "bone-mets-no-bma", "indeterminate-focus-correlative-imaging"],
             rule="§7.1 diffuse sclerosis = indeterminate; sarcoidosis named as alternative = benign",
             note="Debatable: seed 001 (this very pattern) left the question open; §7.1 literally makes it benign.")

    c = base("disc7")
    c.imaging("ctcap", 30, "Lytic lesion in the T9 vertebral body consistent with metastasis.", status="entered-in-error")
    c.imaging("ctcap", 29, "No evidence of metastatic disease. Degenerative changes of the thoracic spine.")
    c.imaging("bonescan", 10, NEG_BS)
    scenario("entered_in_error_metastatic_ct", "patient-view", c,
             absent=["discordant-ct-positive-bone-scan-negative", "bone-mets-no-bma"],
             rule="§7.1 entered-in-error never counts")

    c = base("disc8")
    c.imaging("ctcap", 26, "Lytic lesion in the T9 vertebral body consistent with metastasis.", status="preliminary")
    c.imaging("ctcap", 25, "Amended: the T9 lesion represents a vertebral haemangioma. No evidence of osseous metastatic disease.", status="amended")
    c.imaging("bonescan", 10, NEG_BS)
    scenario("preliminary_metastatic_superseded_by_amended_benign", "patient-view", c,
             absent=["discordant-ct-positive-bone-scan-negative", "bone-mets-no-bma"],
             rule="§7.1 preliminary replaced by final/amended",
             note="Amended report is a separate DiagnosticReport resource (not same id) — linkage to the preliminary is by study/date only; ambiguous.")

    # report filing variants
    c = base("file1")
    c.imaging("ctcap", 19, "Lytic lesion in the right iliac bone consistent with metastasis.")
    html = ("<html><body><h2>NM Whole Body Bone Scan</h2><p><b>Findings:</b> Physiologic tracer distribution. "
            "Mild degenerative uptake at the knees.</p><p><b>Impression:</b> No scintigraphic evidence of "
            "osseous metastatic disease.</p></body></html>")
    c.imaging("bonescan", 7, None, presented={"contentType": "text/html", "data": base64.b64encode(html.encode()).decode()})
    scenario("negative_bone_scan_base64_html_only", "patient-view", c,
             present=["discordant-ct-positive-bone-scan-negative"], rule="§4.1 presentedForm; §1 R08")

    c = base("file2")
    c.imaging("ctcap", 19, "Lytic lesion in the L4 vertebral body consistent with metastasis.")
    c.imaging("bonescan", 7, "No evidence of metastatic disease.", presented={"contentType": "text/plain",
              "data": base64.b64encode(b"IMPRESSION: No evidence of metastatic disease.").decode()})
    scenario("bone_scan_impression_only_no_evidence_of_metastatic_disease", "patient-view", c,
             present=["discordant-ct-positive-bone-scan-negative"], rule="§7.1 report read in context of its study")

    c = base("file3")
    c.cond([(SCT, "12584003", "Bone pain")], "Persistent right hip pain, worse at night", 40, body_site=[(SCT, "29836001", "Hip region structure")])
    c.symptom_obs([(SCT, "12584003", "Bone pain")], "Right hip pain persists, 7/10 at night", 2)
    c.imaging("bonescan", 14, "No evidence of metastatic disease.")
    scenario("impression_only_negative_bone_scan_persistent_pain", "patient-view", c,
             present=["negative-bone-scan-persistent-pain-mri"], absent=["discordant-ct-positive-bone-scan-negative"],
             rule="§7.1 + §1 R10")

    # ================================================================ CONTRAST (R07, §7.2)
    def acr_chart(pid, *, egfr=88, chemo_start=60, chemo_last=10, pain_days=7, extra=None):
        c = base(pid, egfr=egfr, bc_onset=100)
        c.ac_chemo(start_days=chemo_start, last_days=chemo_last)
        c.cond([(SCT, "12584003", "Bone pain")], "New right hip and lower back bone pain", pain_days,
               category="encounter-diagnosis")
        return c

    c = acr_chart("ctr1", egfr=20)
    dr = [draft("ctr1", "mri_chest", reason=[(SCT, "12584003", "Bone pain")])]
    scenario("acr_mri_chest_egfr20_no_contrast_ct_suggestion", "order-select", c, drafts=dr,
             present=["acr-usually-not-appropriate"], checks=["no_contrast_ct_suggestion", "no_contrast_ct_text", "rating:not-appropriate"],
             rule="§1 R03; §7.2 R07 (every suggestion of any card)")

    c = acr_chart("ctr2", egfr=88)
    c.cond([(ICD, "N17.9", "Acute kidney failure, unspecified"), (SCT, "14669001", "Acute renal failure syndrome")],
           "Acute kidney injury", 3)
    dr = [draft("ctr2", "ct_chest_noiv"), draft("ctr2", "ct_ap_noiv")]
    scenario("acr_ct_noiv_with_aki_no_contrast_suggestion", "order-select", c, drafts=dr,
             present=["acr-usually-not-appropriate"], checks=["no_contrast_ct_suggestion", "no_contrast_ct_text"],
             rule="§1 R03b; §7.2 R07 (AKI)", note="eGFR lab still 88 (pre-AKI); AKI coded as Condition 3 d ago.")

    c = base("ctr3", egfr=12, alt=140, ast=120)
    c.cond([(ICD, "N18.6", "End stage renal disease"), (SCT, "46177005", "End-stage renal disease")], "ESRD on haemodialysis", 900)
    c.procedure([(SCT, "302497006", "Hemodialysis")], "Haemodialysis session", 2)
    c.cond([(SCT, "12584003", "Bone pain")], "Back pain", 20)
    c.imaging("bonescan", 9, NEG_BS)
    scenario("dialysis_negative_bone_scan_visceral_suspicion", "patient-view", c,
             checks=["no_contrast_ct_suggestion", "no_contrast_ct_text"], rule="§7.2 R07 (applies to every card suggestion); §1 R11",
             note="No topic required; only the contrast safety check.")

    c = base("ctr4", egfr=22)
    c.cond([(SCT, "127189005", "Neck swelling")], "Left supraclavicular swelling", 10)
    dr = [draft("ctr4", "ct_neck_iv")]
    scenario("ct_neck_contrast_egfr22", "order-select", c, drafts=dr,
             present=["renal-impairment-contrast"], rule="§7.2 R07 every contrast CT region")

    c = base("ctr5", egfr=22)
    dr = [draft("ctr5", "ct_head_iv")]
    scenario("ct_head_contrast_egfr22", "order-sign", c, drafts=dr,
             present=["renal-impairment-contrast"], rule="§7.2 R07 every contrast CT region")

    c = base("ctr6", egfr=45)
    c.cond([(SCT, "12584003", "Bone pain")], "Bone pain", 10)
    dr = [draft("ctr6", "ct_chest_iv"), draft("ctr6", "ct_ap_iv")]
    scenario("ct_cap_contrast_egfr45_near_miss", "order-select", c, drafts=dr,
             absent=["renal-impairment-contrast"], rule="§7.2 R07 threshold < 30")

    c = base("ctr7", egfr=24, alt=110, ast=95)
    c.bone_mets(60)
    c.imaging("bonescan", 60, "Multiple osseous metastases in the spine and pelvis.")
    c.imaging("bonescan", 5, NEG_BS)
    c.cond([(SCT, "12584003", "Bone pain")], "Bone pain", 10)
    scenario("egfr24_patient_view_all_suggestions_contrast_free", "patient-view", c,
             present=["bone-mets-no-bma"], checks=["no_contrast_ct_suggestion", "no_contrast_ct_text", "text:calcium|hypocalc"],
             rule="§7.2 R07 + R15")

    # ================================================================ CORD COMPRESSION (R25)
    def cord_chart(pid, *, deficit=True):
        c = base(pid, bc_onset=800)
        c.bone_mets(200, site=[(SCT, "122496007", "Thoracic vertebral column structure")])
        c.imaging("ctcap", 200, "Lytic metastasis in the T9 vertebral body with posterior cortical involvement.")
        c.admin(*XGEVA, 25, dose={"value": 120, "unit": "mg"})
        c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 200, start_days=198)
        c.cond([(SCT, "161891005", "Backache"), (ICD, "M54.6", "Pain in thoracic spine")], "Thoracic back pain", 12,
               category="encounter-diagnosis")
        if deficit:
            c.cond([(SCT, "26544005", "Muscle weakness")], "New weakness of both legs", 2,
                   category="encounter-diagnosis", body_site=[(SCT, "61685007", "Lower limb structure")])
            c.cond([(SCT, "267064002", "Retention of urine"), (ICD, "R33.9", "Retention of urine, unspecified")],
                   "Urinary retention", 1, category="encounter-diagnosis")
        return c

    c = cord_chart("cord1")
    scenario("cord_compression_patient_view", "patient-view", c,
             present=["spinal-cord-compression-mri-spine"], absent=["cns-symptoms-mri-brain"],
             checks=["critical:spinal-cord-compression-mri-spine"], rule="§7.3 R25 (precedence over R05)")

    c = cord_chart("cord2")
    dr = [draft("cord2", "bonescan", reason=[(SCT, "161891005", "Backache")])]
    scenario("cord_compression_order_select_bone_scan", "order-select", c, drafts=dr,
             present=["spinal-cord-compression-mri-spine"], absent=["cns-symptoms-mri-brain"],
             checks=["critical:spinal-cord-compression-mri-spine"], rule="§7.3 R25")

    c = cord_chart("cord3", deficit=False)
    scenario("back_pain_without_deficit_no_cord_card", "patient-view", c,
             absent=["spinal-cord-compression-mri-spine", "cns-symptoms-mri-brain"], rule="§7.3 R25 (needs deficit)")

    # ================================================================ HYPERCALCAEMIA (R26)
    c = base("ca1", ca=12.1, alb=3.8, alp=210)
    c.bone_mets(150)
    c.imaging("bonescan", 150, "Multiple osseous metastases in the spine, ribs and pelvis.")
    c.admin(*XGEVA, 100, dose={"value": 120, "unit": "mg"})
    c.cond([(SCT, "271782001", "Drowsy"), (SCT, "14760008", "Constipation")], "Constipation and drowsiness", 4)
    scenario("hypercalcaemia_with_bone_mets", "patient-view", c,
             present=["hypercalcaemia-of-malignancy"], checks=["critical:hypercalcaemia-of-malignancy"], rule="§7.3 R26")

    c = base("ca2", ca=10.6, alb=5.1)
    c.bone_mets(150)
    c.imaging("bonescan", 150, "Multiple osseous metastases in the spine, ribs and pelvis.")
    c.admin(*XGEVA, 20, dose={"value": 120, "unit": "mg"})
    scenario("high_total_calcium_corrected_normal", "patient-view", c,
             absent=["hypercalcaemia-of-malignancy"], rule="§7.3 R26 (corrected Ca = 10.6 + 0.8*(4.0-5.1) = 9.72)",
             note="Brief said 'low albumin'; with the §7.3 formula low albumin raises the corrected value, so a normal "
                  "corrected value from a high total needs a HIGH albumin (5.1 g/dL, flagged within range 3.5-5.2).")

    c = base("ca3", ca=9.9, alb=2.4)
    c.bone_mets(150)
    c.imaging("bonescan", 150, "Multiple osseous metastases in the spine, ribs and pelvis.")
    c.admin(*XGEVA, 20, dose={"value": 120, "unit": "mg"})
    scenario("normal_total_calcium_low_albumin_corrected_high", "patient-view", c,
             present=["hypercalcaemia-of-malignancy"], rule="§7.3 R26 (corrected = 9.9 + 0.8*1.6 = 11.18 > 10.3)")

    c = base("ca4")
    c.bone_mets(150)
    c.imaging("bonescan", 150, "Multiple osseous metastases in the spine, ribs and pelvis.")
    c.admin(*XGEVA, 20, dose={"value": 120, "unit": "mg"})
    c.lab("1994-3", "Calcium.ionized [Moles/volume] in Blood", 1.52, "mmol/L", 1, low=1.15, high=1.33, interp="H")
    scenario("ionised_calcium_high", "patient-view", c,
             present=["hypercalcaemia-of-malignancy"], rule="§7.3 R26 (ionised by own range)")

    # ================================================================ CNS (R05, §7.2)
    c = acr_chart("cns1")
    c.cond([(SCT, "26544005", "Muscle weakness")], "Generalised weakness and fatigue", 5, category="encounter-diagnosis")
    dr = [draft("cns1", "bonescan", reason=[(SCT, "12584003", "Bone pain")])]
    scenario("generic_muscle_weakness_no_cns_card", "order-select", c, drafts=dr,
             absent=["cns-symptoms-mri-brain", "acr-usually-not-appropriate"], checks=["rating:appropriate"],
             rule="§7.2 R05 (generic weakness does not count, never disables ACR rating)")

    c = acr_chart("cns2")
    c.cond([(SCT, "37796009", "Migraine"), (ICD, "G43.909", "Migraine, unspecified")], "Migraine", 5000, recorded_days=4000)
    dr = [draft("cns2", "bonescan")]
    scenario("migraine_history_no_cns_card", "order-select", c, drafts=dr,
             absent=["cns-symptoms-mri-brain"], checks=["rating:appropriate"], rule="§7.2 R05")

    c = acr_chart("cns3")
    c.cond([(SCT, "91175000", "Seizure"), (ICD, "R56.9", "Unspecified convulsions")], "New-onset seizure", 6,
           category="encounter-diagnosis")
    dr = [draft("cns3", "ct_chest_iv"), draft("cns3", "ct_ap_iv")]
    scenario("new_seizure_body_survey_order", "order-select", c, drafts=dr,
             present=["cns-symptoms-mri-brain"], rule="§1 R05; §7.2 R05")

    c = base("cns4")
    c.cond([(SCT, "91175000", "Seizure")], "Focal seizure, first episode", 4, category="encounter-diagnosis")
    scenario("new_seizure_patient_view", "patient-view", c, present=["cns-symptoms-mri-brain"], rule="§1 R05")

    c = base("cns5")
    c.cond([(SCT, "25064002", "Headache")], "Chronic tension-type headache", 1500, recorded_days=1400)
    c.symptom_obs([(SCT, "25064002", "Headache")], "Headache, usual pattern, unchanged", 3)
    scenario("chronic_headache_no_cns_card", "patient-view", c, absent=["cns-symptoms-mri-brain"], rule="§7.2 R05",
             note="Ambiguous: a 3-day-old Observation 'headache, usual pattern' is recorded in window; rules say chronic headache does not count.")

    # ================================================================ BMA (R15, §7.2)
    c = base("bma1", bc_onset=900)
    c.bone_mets(40)
    c.imaging("bonescan", 42, "Multiple foci of increased uptake in the thoracic and lumbar spine and pelvis, consistent with osseous metastases.")
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 35, start_days=35)
    c.medreq("1601380", "palbociclib 125 MG Oral Capsule", 35, start_days=35)
    scenario("established_bone_mets_no_bma", "patient-view", c, present=["bone-mets-no-bma"], rule="§1 R15; §7.2 R15")

    c = base("bma2", bc_onset=900)
    c.bone_mets(40)
    c.imaging("bonescan", 42, "Multiple foci of increased uptake in the spine and pelvis, consistent with osseous metastases.")
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 35, start_days=35)
    c.medreq("993449", "denosumab 60 MG/ML Prefilled Syringe [Prolia]", 60, start_days=60,
             text="Prolia 60 mg SC every 6 months", dose={"value": 60, "unit": "mg"})
    c.admin("993449", "denosumab 60 MG/ML Prefilled Syringe [Prolia]", 58, dose={"value": 60, "unit": "mg"})
    c.cond([(SCT, "64859006", "Osteoporosis"), (ICD, "M81.0", "Age-related osteoporosis")], "Osteoporosis", 800)
    scenario("prolia_only_osteoporosis_dose", "patient-view", c, present=["bone-mets-no-bma"],
             checks=["text:60|osteoporosis|Prolia"], rule="§1 R15 notes (Prolia 60 mg does not satisfy)")

    c = base("bma3", bc_onset=900)
    c.bone_mets(40)
    c.imaging("bonescan", 42, "Multiple osseous metastases in the spine and pelvis.")
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 35, start_days=35)
    c.admin(*XGEVA, 12, dose={"value": 120, "unit": "mg"})
    scenario("xgeva_given_no_bma_card", "patient-view", c, absent=["bone-mets-no-bma"], rule="§1 R15")

    c = base("bma4", bc_onset=900, egfr=25)
    c.bone_mets(40)
    c.imaging("bonescan", 42, "Multiple osseous metastases in the spine and pelvis.")
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 35, start_days=35)
    scenario("bone_mets_no_bma_egfr25_calcium_advice", "patient-view", c, present=["bone-mets-no-bma"],
             checks=["text:calcium|hypocalc"], rule="§7.2 R15 (denosumab calcium monitoring CrCl<30)")

    c = Chart("bma5")
    c.background(); c.home_meds(); c.routine_labs()
    c.cond([(ICD, "Z85.3", "Personal history of malignant neoplasm of breast")], "History of left breast cancer (2018)", 2900)
    c.cond([(ICD, "C79.51", "Secondary malignant neoplasm of bone")], "Bone metastases from breast cancer", 30)
    c.procedure([(SCT, "172043006", "Mastectomy")], "Left mastectomy", 2900)
    c.imaging("ctcap", 35, "Multiple lytic lesions in the spine and pelvis consistent with metastases. No visceral metastases.")
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 20, start_days=20)
    scenario("distant_recurrence_z853_c7951_no_bma", "patient-view", c, present=["bone-mets-no-bma"],
             rule="§7.2 R01 coding (C79.51 + Z85.3 = metastatic breast cancer); R15")

    # ================================================================ ORDER TIME (R01-R03, R09, §7.2)
    c = acr_chart("ord1")
    dr = [draft("ord1", "mri_chest", reason=[(SCT, "12584003", "Bone pain")])]
    scenario("acr_neoadjuvant_new_bone_pain_mri_chest", "order-select", c, drafts=dr,
             present=["acr-usually-not-appropriate"], checks=["rating:not-appropriate"], rule="§1 R01, R03")

    c = acr_chart("ord2", chemo_start=70, chemo_last=10)
    dr = [draft("ord2", "bonescan", reason=[(SCT, "12584003", "Bone pain")])]
    scenario("post_chemo_bone_scan_order_time_off", "order-select", c, drafts=dr,
             absent=["post-chemo-bone-scan-timing", "acr-usually-not-appropriate"], checks=["rating:appropriate"],
             rule="§7.2 R09 (order-time card not a default)")

    c = acr_chart("ord3")
    dr = [draft("ord3", "mri_chest")]
    scenario("acr_mri_chest_order_sign", "order-sign", c, drafts=dr,
             present=["acr-usually-not-appropriate"], checks=["rating:not-appropriate"], rule="§1 R03 (order-sign same logic)")

    c = base("ord4", bc_onset=60)
    c.cond([(SCT, "12584003", "Bone pain")], "Bone pain", 200, status="resolved", abated_days=150)
    dr = [draft("ord4", "bonescan")]
    scenario("early_stage_no_suspicion_bone_scan", "order-select", c, drafts=dr,
             absent=["acr-usually-not-appropriate", "cns-symptoms-mri-brain", "spinal-cord-compression-mri-spine"],
             rule="§1 R01 exclusion",
             note="Stage is not coded, so no-suspicion-survey-not-indicated is not asserted.")
    extra()


def extra():
    # ---------------- second batch: edges and near misses
    c = base("x-cns6")
    c.cond([(SCT, "25064002", "Headache"), (ICD, "R51.9", "Headache, unspecified")], "Chronic daily headache", 1500,
           recorded_days=1400)
    scenario("chronic_headache_condition_only_no_cns_card", "patient-view", c, absent=["cns-symptoms-mri-brain"],
             rule="§7.2 R05 (chronic headache, no new onset)")

    c = base("x-cns7")
    c.cond([(SCT, "91175000", "Seizure")], "Seizure", 60, category="encounter-diagnosis")
    scenario("seizure_60_days_ago_outside_window", "patient-view", c, absent=["cns-symptoms-mri-brain"],
             rule="§1 R05 (onset within 30 d)")

    c = base("x-cns8")
    c.cond([(SCT, "91175000", "Seizure")], "New-onset seizure", 9, category="encounter-diagnosis")
    c.imaging("mri_brain", 6, "No intracranial metastatic disease. No acute abnormality.")
    scenario("seizure_brain_mri_already_done", "patient-view", c, absent=["cns-symptoms-mri-brain"],
             rule="§1 R05 (no brain MRI since onset)")

    def acr(pid, egfr=88):
        c = base(pid, egfr=egfr, bc_onset=100)
        c.ac_chemo(start_days=60, last_days=10)
        c.cond([(SCT, "12584003", "Bone pain")], "New bone pain, lower back", 7, category="encounter-diagnosis")
        return c

    c = acr("x-acr1")
    c.cond([(SCT, "26544005", "Muscle weakness")], "Generalised weakness", 5, category="encounter-diagnosis")
    scenario("generic_weakness_does_not_disable_acr_rating", "order-select", c, drafts=[draft("x-acr1", "mri_chest")],
             present=["acr-usually-not-appropriate"], absent=["cns-symptoms-mri-brain"], checks=["rating:not-appropriate"],
             rule="§7.2 R05 (never disable the ACR rating)")

    c = acr("x-acr2")
    c.cond([(SCT, "37796009", "Migraine")], "Migraine without aura", 6000, recorded_days=5000)
    scenario("migraine_history_does_not_disable_acr_rating", "order-select", c, drafts=[draft("x-acr2", "ct_chest_noiv")],
             present=["acr-usually-not-appropriate"], absent=["cns-symptoms-mri-brain"], checks=["rating:not-appropriate"],
             rule="§7.2 R05; README CT chest 71250 alone rated as survey")

    c = acr("x-acr3", egfr=20)
    scenario("acr_ct_cap_contrast_egfr20", "order-select", c, drafts=[draft("x-acr3", "ct_chest_iv"), draft("x-acr3", "ct_ap_iv")],
             present=["renal-impairment-contrast"], checks=["no_contrast_ct_suggestion", "no_contrast_ct_text"], rule="§1 R07, §7.2 R07")

    c = base("x-ctr8", egfr=70)
    c.egfr(20, 200)
    scenario("old_low_egfr_latest_normal", "order-select", c, drafts=[draft("x-ctr8", "ct_neck_iv")],
             absent=["renal-impairment-contrast"], rule="§1 R07 (latest eGFR, within 90 d)")

    c = acr("x-acr4", egfr=88)
    c.keys["tumorMarkers"].clear()
    c.receptors("neg", "neg", "neg", 95)
    c.cond([(SCT, "706970001", "Triple negative malignant neoplasm of breast")], "Triple-negative breast cancer", 95)
    scenario("tnbc_bone_scan_order_pet_preferred", "order-select", c, drafts=[draft("x-acr4", "bonescan")],
             present=["aggressive-subtype-pet-ct"], checks=["rating:appropriate"], rule="§1 R06")

    c = acr("x-acr5")
    scenario("skeletal_survey_as_metastasis_search", "order-select", c, drafts=[draft("x-acr5", "xr_survey")],
             present=["radiograph-survey-insensitive"], rule="§1 R17")

    c = base("x-bma6", egfr=25, bc_onset=900)
    c.bone_mets(30)
    c.imaging("bonescan", 32, "Multiple osseous metastases in the spine and pelvis.")
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 25, start_days=25)
    mr = {"resourceType": "MedicationRequest", "id": nid("mrdraft"), "status": "draft", "intent": "order",
          "medicationCodeableConcept": cc((RXN, "993449", "denosumab"), text="Xgeva (denosumab) 120 mg SC every 4 weeks"),
          "subject": {"reference": "Patient/x-bma6"}, "authoredOn": d(0),
          "dosageInstruction": [{"text": "120 mg subcutaneously every 4 weeks",
                                 "doseAndRate": [{"doseQuantity": {"value": 120, "unit": "mg"}}]}]}
    scenario("denosumab_draft_egfr25_prerequisites", "order-select", c, drafts=[mr],
             present=["bma-prerequisites"], checks=["text:calcium|hypocalc"], rule="§7.2 R15 (CrCl<30 calcium monitoring)")

    c = base("x-bma7", bc_onset=900)
    c.cond([(ICD, "C79.51", "Secondary malignant neoplasm of bone")], "Bone metastasis (ruled out)", 50, verification="refuted")
    c.imaging("mri_lspine", 45, "Vertebral haemangioma at L2. No evidence of metastatic disease.")
    scenario("refuted_bone_mets_condition_no_bma", "patient-view", c, absent=["bone-mets-no-bma"],
             rule="§7.1 coded diagnosis not refuted")

    c = base("x-bma8", bc_onset=900)
    c.bone_mets(200)
    c.imaging("bonescan", 200, "Multiple osseous metastases.")
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 190, start_days=190)
    c.medreq("1114085", "zoledronic acid 4 MG in 100 ML Injection", 190, start_days=190, text="Zometa 4 mg IV every 12 weeks")
    c.admin("1114085", "zoledronic acid 4 MG in 100 ML Injection", 70)
    scenario("zoledronic_acid_q12w_no_bma_card", "patient-view", c, absent=["bone-mets-no-bma"], rule="§1 R15")

    c = base("x-disc9")
    c.imaging("ctcap", 150, "Lytic lesion in the right iliac bone consistent with metastasis.")
    c.imaging("bonescan", 8, NEG_BS)
    scenario("discordance_pair_outside_60d_window", "patient-view", c,
             absent=["discordant-ct-positive-bone-scan-negative"], present=["bone-mets-no-bma"],
             rule="§1 R08 window 60 d; §7.1 established (neg bone scan does not supersede)",
             note="present bone-mets-no-bma follows README/§7.1 reading; a clinician could argue for re-imaging instead.")

    c = base("x-disc10")
    c.imaging("mri_lspine", 20, "T1 hypointense marrow-replacing lesion in the L2 vertebral body, consistent with metastasis.")
    c.imaging("bonescan", 6, NEG_BS)
    scenario("mri_metastasis_negative_bone_scan", "patient-view", c,
             present=["discordant-ct-positive-bone-scan-negative"], rule="§7.2 R08 (CT/PET/MRI)")

    c = base("x-flare5", bc_onset=700)
    c.imaging("bonescan", 250, "Multiple foci consistent with osseous metastases in the spine and pelvis.")
    c.imaging("ctcap", 248, "Sclerotic metastases in T7 and L2 consistent with metastatic disease; no visceral metastases.")
    c.medreq("1601380", "palbociclib 125 MG Oral Capsule", 62, start_days=60)
    c.medreq("200064", "letrozole 2.5 MG Oral Tablet", 62, start_days=60)
    c.admin(*XGEVA, 20, dose={"value": 120, "unit": "mg"})
    c.cond([(SCT, "12584003", "Bone pain")], "Bone pain", 80, status="resolved", abated_days=20)
    c.imaging("bonescan", 4, "Increased uptake at the known lesions in the spine and pelvis compared with prior. No new lesions.")
    scenario("flare_known_mets_by_prior_scan_only", "patient-view", c, present=["bone-scan-flare"],
             absent=["progression-not-flare"], rule="§1 R13 trigger 1 (prior positive bone scan); §7.2")

    c = base("x-flare6", bc_onset=120)
    c.ac_chemo(start_days=50, last_days=8)
    c.imaging("bonescan", 5, "Multiple foci of increased uptake in the spine and ribs consistent with osseous metastases.")
    c.bone_mets(3)
    scenario("first_positive_scan_then_coded_mets_after_line_start", "patient-view", c,
             present=["progression-not-flare"], absent=["bone-scan-flare"],
             rule="§7.2 R13 (known BEFORE the line started)", note="C79.51 coded 3 d ago, after the line started.")

    c = base("x-cord4", bc_onset=500)
    c.imaging("ctcap", 15, "Lytic lesion in the T10 vertebral body suspicious for metastasis with possible epidural extension.")
    c.symptom_obs([(SCT, "161891005", "Backache")], "Thoracic back pain", 6)
    c.symptom_obs([(SCT, "26544005", "Muscle weakness")], "New bilateral leg weakness, unsteady gait", 1)
    scenario("cord_compression_suspected_vertebral_mets_symptom_observations", "patient-view", c,
             present=["spinal-cord-compression-mri-spine"], absent=["cns-symptoms-mri-brain"],
             rule="§7.3 R25 (known OR suspected vertebral mets; symptoms as Observation §4.4)")

    c = base("x-ca5", ca=11.4, alb=4.0)
    scenario("hypercalcaemia_without_bone_mets_or_suspicion", "patient-view", c,
             absent=["hypercalcaemia-of-malignancy"], rule="§7.3 R26 (needs known or suspected bone mets)",
             note="Ambiguous: hypercalcaemia in breast cancer is itself a reason to suspect bone mets; rule text requires mets.")

    c = base("x-ca6", bc_onset=800)
    c.bone_mets(200)
    c.imaging("bonescan", 200, "Multiple osseous metastases.")
    c.admin(*XGEVA, 20, dose={"value": 120, "unit": "mg"})
    c.lab("17861-6", "Calcium [Mass/volume] in Serum or Plasma", 12.4, "mg/dL", 60, low=8.6, high=10.3, interp="H")
    scenario("old_hypercalcaemia_latest_normal", "patient-view", c, absent=["hypercalcaemia-of-malignancy"],
             rule="§7.3 R26 (latest calcium normal)")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.glob("*.json"):
        f.unlink()
    build()
    for i, s in enumerate(SCENARIOS, 1):
        (OUT / f"{i:02d}_{s['name']}.json").write_text(json.dumps(s, indent=1) + "\n")
    print(f"wrote {len(SCENARIOS)} scenarios to {OUT}")


if __name__ == "__main__":
    main()
