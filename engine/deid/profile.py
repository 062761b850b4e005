"""PS3.15 Annex E Basic Application Level Confidentiality Profile for ultrasound datasets.

``ACTIONS`` lists, by keyword, the profile's action for the identifying attributes that occur in
ultrasound files (PS3.15 Table E.1-1): ``X`` remove, ``Z`` empty, ``D`` replace with a dummy or
pseudonym, ``U`` replace the UID consistently. On top of the table: every other UID that is
not a standard DICOM UID is remapped, every date (DA, and the date part of DT) is shifted by
the patient's offset (Retain Longitudinal Temporal Information with Modified Dates Option),
and private attributes, overlays and curves are removed. The function walks sequences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID_dictionary

X, Z, D, U = "X", "Z", "D", "U"

_REMOVE = """
    AcquisitionComments AdditionalPatientHistory AdmissionID AdmittingDiagnosesCodeSequence
    AdmittingDiagnosesDescription Allergies Arbitrary AuthorObserverSequence BranchOfService
    CurrentPatientLocation CustodialOrganizationSequence DataSetTrailingPadding DerivationDescription
    DeviceSerialNumber DigitalSignaturesSequence DischargeDiagnosisDescription EthnicGroup
    FrameComments GantryID IconImageSequence IdentifyingComments ImageComments
    ImagePresentationComments InstitutionAddress InstitutionalDepartmentName InstitutionCodeSequence
    InstitutionName InsurancePlanIdentification IntendedRecipientsOfResultsIdentificationSequence
    InterpretationApproverSequence InterpretationAuthor InterpretationIDIssuer InterpretationRecorder
    InterpretationText InterpretationTranscriber IssuerOfAdmissionID IssuerOfPatientID
    IssuerOfServiceEpisodeID MedicalAlerts MedicalRecordLocator MilitaryRank ModifiedAttributesSequence
    NameOfPhysiciansReadingStudy NamesOfIntendedRecipientsOfResults Occupation
    OperatorIdentificationSequence OperatorsName OriginalAttributesSequence OrderCallbackPhoneNumber
    OrderEnteredBy OrderEntererLocation OtherPatientIDs OtherPatientIDsSequence OtherPatientNames
    PatientAddress PatientAge PatientBirthName PatientBirthTime PatientComments
    PatientInsurancePlanCodeSequence PatientMotherBirthName PatientPrimaryLanguageCodeSequence
    PatientReligiousPreference PatientSize PatientState PatientTelephoneNumbers PatientWeight
    PerformedLocation PerformedProcedureStepDescription PerformedProcedureStepID PerformedStationAETitle
    PerformedStationName PerformedStationNameCodeSequence PerformingPhysicianIdentificationSequence
    PerformingPhysicianName PersonAddress PersonTelephoneNumbers PhysicianApprovingInterpretation
    PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence PhysiciansReadingStudyIdentificationSequence
    PreMedication PregnancyStatus ProtocolName ReasonForStudy ReferencedPatientAliasSequence
    ReferencedPatientSequence ReferencedStudySequence ReferringPhysicianAddress
    ReferringPhysicianIdentificationSequence ReferringPhysicianTelephoneNumbers RegionOfResidence
    RequestAttributesSequence RequestedContrastAgent RequestedProcedureComments
    RequestedProcedureDescription RequestedProcedureID RequestedProcedureLocation RequestingPhysician
    RequestingService ResponsibleOrganization ResponsiblePerson ResultsComments
    ResultsDistributionListSequence
    ResultsIDIssuer ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
    ScheduledProcedureStepDescription ScheduledProcedureStepID ScheduledStationAETitle
    ScheduledStationName ScheduledStationNameCodeSequence ServiceEpisodeDescription ServiceEpisodeID
    SeriesDescription SmokingStatus SoftwareVersions SpecialNeeds StationName StudyComments
    StudyDescription StudyIDIssuer TextComments TextString TimezoneOffsetFromUTC TopicAuthor
    TopicKeywords TopicSubject TopicTitle VerifyingObserverIdentificationCodeSequence
    VerifyingObserverName VerifyingOrganization VisitComments LastMenstrualDate
    SourceApplicationEntityTitle SendingApplicationEntityTitle ReceivingApplicationEntityTitle
"""
_EMPTY = """
    AccessionNumber ContentCreatorName PatientBirthDate PatientSex ReferringPhysicianName StudyID
    FillerOrderNumberImagingServiceRequest PlacerOrderNumberImagingServiceRequest
"""
_DUMMY = "PatientName PatientID"
_UID = """
    StudyInstanceUID SeriesInstanceUID SOPInstanceUID MediaStorageSOPInstanceUID FrameOfReferenceUID
    SynchronizationFrameOfReferenceUID InstanceCreatorUID ReferencedSOPInstanceUID
    ReferencedFrameOfReferenceUID IrradiationEventUID StorageMediaFileSetUID DimensionOrganizationUID
    ConcatenationUID ReferencedSOPInstanceUIDInFile
"""
ACTIONS: dict[str, str] = (
    dict.fromkeys(_REMOVE.split(), X)
    | dict.fromkeys(_EMPTY.split(), Z)
    | dict.fromkeys(_DUMMY.split(), D)
    | dict.fromkeys(_UID.split(), U)
)
# UIDs that name things, not people: never remapped
KEEP_UIDS = {"SOPClassUID", "ReferencedSOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID",
             "ImplementationClassUID", "CodingSchemeUID", "ContextGroupExtensionCreatorUID",
             "MappingResourceUID", "ContextUID", "ReferencedTransferSyntaxUIDInFile",
             "ReferencedSOPClassUIDInFile"}  # fmt: skip


@dataclass(frozen=True)
class Change:
    """One change to one attribute (no values: the audit must not repeat what it removed)."""

    tag: str
    keyword: str
    action: str  # removed | emptied | replaced | uid_remapped | date_shifted


@dataclass(frozen=True)
class Policy:
    """How the replacements are made for one patient.

    Attributes:
        pseudonym: replaces PatientName and PatientID.
        day_offset: days added to every date (negative: earlier), the same for all of a patient's files.
        remap_uid: old UID -> new UID, consistent across files.
    """

    pseudonym: str
    day_offset: int
    remap_uid: Callable[[str], str]


def shift_date(value: str, days: int) -> str:
    """``YYYYMMDD`` shifted by ``days``; a DT keeps its time part; unparseable values are emptied."""
    head, tail = value[:8], value[8:]
    try:
        shifted = date(int(head[:4]), int(head[4:6]), int(head[6:8])) + timedelta(days=days)
    except ValueError:
        return ""
    return shifted.strftime("%Y%m%d") + tail


def _is_overlay_or_curve(tag: BaseTag) -> bool:
    return 0x5000 <= tag.group <= 0x50FF or 0x6000 <= tag.group <= 0x60FF


def _uid_values(value: object, remap: Callable[[str], str]) -> object:
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return [_uid_values(v, remap) for v in value]  # type: ignore[union-attr]
    text = str(value)
    return text if not text or text in UID_dictionary else remap(text)


def _apply(ds: Dataset, policy: Policy, path: str, out: list[Change]) -> None:
    for elem in list(ds):
        tag, kw = elem.tag, elem.keyword
        where = f"{path}{kw or str(tag)}"
        action = ACTIONS.get(kw)
        if tag.is_private or _is_overlay_or_curve(tag) or action == X:
            del ds[tag]
            out.append(Change(str(tag), where, "removed"))
        elif action == Z:
            elem.value = [] if elem.VR == "SQ" else ""
            out.append(Change(str(tag), where, "emptied"))
        elif action == D:
            elem.value = f"{policy.pseudonym}^" if elem.VR == "PN" else policy.pseudonym
            out.append(Change(str(tag), where, "replaced"))
        elif elem.VR == "UI" and kw not in KEEP_UIDS and elem.value:
            new = _uid_values(elem.value, policy.remap_uid)
            if new != elem.value:
                elem.value = new
                out.append(Change(str(tag), where, "uid_remapped"))
        elif elem.VR in ("DA", "DT") and elem.value:
            values = elem.value if elem.VM > 1 else [elem.value]
            shifted = [shift_date(str(v), policy.day_offset) for v in values]
            elem.value = shifted[0] if len(shifted) == 1 else shifted
            out.append(Change(str(tag), where, "date_shifted"))
        elif elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                _apply(item, policy, f"{where}[{i}].", out)


def deidentify_dataset(ds: Dataset, policy: Policy) -> list[Change]:
    """De-identify ``ds`` in place (file meta included); returns every change made.

    Adds PatientIdentityRemoved = YES, DeidentificationMethod and its code sequence, and
    LongitudinalTemporalInformationModified = MODIFIED.
    """
    changes: list[Change] = []
    _apply(ds, policy, "", changes)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        _apply(meta, policy, "file meta ", changes)
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.DeidentificationMethod = ["EchoCare Studio PS3.15 basic profile", "dates shifted per patient"]
    ds.DeidentificationMethodCodeSequence = [
        _code("113100", "Basic Application Confidentiality Profile"),
        _code("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ]
    return changes


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def add_method_code(ds: Dataset, value: str, meaning: str) -> None:
    """Append one code (e.g. 113101 Clean Pixel Data Option) to DeidentificationMethodCodeSequence."""
    ds.DeidentificationMethodCodeSequence.append(_code(value, meaning))
