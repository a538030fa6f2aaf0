//! Unit tests of the Metadata API conversion, records and zip.
use std::collections::BTreeSet;
use std::io::Cursor;

use super::*;
use crate::redacted::Redacted;

const NS: &str = "xmlns=\"http://soap.sforce.com/2006/04/metadata\"";

fn tree(files: &[(&str, &str)]) -> SourceTree {
    files
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

fn field(name: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CustomField {NS}>\n    <fullName>{name}</fullName>\n    <label>{name}</label>\n    <type>Text</type>\n</CustomField>\n")
}

fn object_tree() -> SourceTree {
    let object = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CustomObject {NS}>\n    <deploymentStatus>Deployed</deploymentStatus>\n    <label>Outbox</label>\n    <nameField>\n        <label>Name</label>\n        <type>AutoNumber</type>\n    </nameField>\n    <pluralLabel>Outbox</pluralLabel>\n    <sharingModel>ReadWrite</sharingModel>\n</CustomObject>\n"
    );
    let view = format!("<ListView {NS}>\n    <fullName>Pending</fullName>\n    <filterScope>Everything</filterScope>\n    <label>Pending</label>\n</ListView>\n");
    tree(&[
        ("objects/X_Outbox__c/X_Outbox__c.object-meta.xml", &object),
        (
            "objects/X_Outbox__c/fields/Status__c.field-meta.xml",
            &field("Status__c"),
        ),
        (
            "objects/X_Outbox__c/fields/Attempts__c.field-meta.xml",
            &field("Attempts__c"),
        ),
        (
            "objects/X_Outbox__c/listViews/Pending.listView-meta.xml",
            &view,
        ),
    ])
}

fn element_names(xml: &str) -> Vec<String> {
    xml::parse(xml)
        .expect("valid")
        .elements()
        .map(|e| e.name.clone())
        .collect()
}

#[test]
fn folds_children_where_the_schema_puts_them() {
    let converted = convert(&object_tree()).expect("converts");
    let object = &converted.files["objects/X_Outbox__c.object"];
    // fields between externalSharingModel..gender, listViews after label: not appended last
    // the way `sf project convert source` does it.
    assert_eq!(
        element_names(object),
        [
            "deploymentStatus",
            "fields",
            "fields",
            "label",
            "listViews",
            "nameField",
            "pluralLabel",
            "sharingModel"
        ]
    );
    let attempts = object.find("<fullName>Attempts__c").expect("attempts");
    let status = object.find("<fullName>Status__c").expect("status");
    assert!(attempts < status, "fields sorted by name");
    assert!(object.contains("    <fields>\n        <fullName>Attempts__c</fullName>\n"));
    assert!(!object.contains("<CustomField"), "child roots are renamed");
}

#[test]
fn lists_every_folded_child_as_its_own_member() {
    let converted = convert(&object_tree()).expect("converts");
    let members: Vec<(String, String)> = converted
        .components
        .iter()
        .map(|c| (c.type_name.clone(), c.member.clone()))
        .collect();
    assert_eq!(
        members,
        [
            ("CustomField".into(), "X_Outbox__c.Attempts__c".into()),
            ("CustomField".into(), "X_Outbox__c.Status__c".into()),
            ("CustomObject".into(), "X_Outbox__c".into()),
            ("ListView".into(), "X_Outbox__c.Pending".into()),
        ]
    );
}

#[test]
fn package_xml_sorts_types_and_members_and_puts_version_last() {
    let components: BTreeSet<Component> = [
        Component::new("RemoteSiteSetting", "B"),
        Component::new("ApexClass", "Zed"),
        Component::new("ApexClass", "Alpha"),
        Component::new("ApexClass", "Beta_x"),
    ]
    .into();
    let expected = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Package {NS}>\n    <types>\n        <members>Alpha</members>\n        <members>Beta_x</members>\n        <members>Zed</members>\n        <name>ApexClass</name>\n    </types>\n    <types>\n        <members>B</members>\n        <name>RemoteSiteSetting</name>\n    </types>\n    <version>63.0</version>\n</Package>\n"
    );
    assert_eq!(package_xml(&components, "63.0"), expected);
    assert_eq!(
        package_xml(&BTreeSet::new(), "63.0"),
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Package {NS}>\n    <version>63.0</version>\n</Package>\n")
    );
}

#[test]
fn renames_meta_only_types_and_keeps_apex_pairs() {
    let t = tree(&[
        ("classes/A.cls", "x"),
        ("classes/A.cls-meta.xml", "m"),
        ("remoteSiteSettings/S.remoteSite-meta.xml", "r"),
        ("customPermissions/P.customPermission-meta.xml", "p"),
        ("permissionsets/Q.permissionset-meta.xml", "q"),
        ("tabs/T__c.tab-meta.xml", "t"),
    ]);
    let converted = convert(&t).expect("converts");
    let paths: Vec<&str> = converted.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "classes/A.cls",
            "classes/A.cls-meta.xml",
            "customPermissions/P.customPermission",
            "permissionsets/Q.permissionset",
            "remoteSiteSettings/S.remoteSite",
            "tabs/T__c.tab"
        ]
    );
    let types: Vec<&str> = converted
        .components
        .iter()
        .map(|c| c.type_name.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "ApexClass",
            "CustomPermission",
            "CustomTab",
            "PermissionSet",
            "RemoteSiteSetting"
        ]
    );
}

#[test]
fn refuses_incomplete_or_foreign_trees() {
    let missing_meta = tree(&[("classes/A.cls", "x")]);
    assert!(matches!(
        convert(&missing_meta),
        Err(MdapiError::MissingCompanion { .. })
    ));
    let missing_code = tree(&[("triggers/A.trigger-meta.xml", "x")]);
    assert!(matches!(
        convert(&missing_code),
        Err(MdapiError::MissingCompanion { .. })
    ));
    let orphan_field = tree(&[("objects/O__c/fields/F__c.field-meta.xml", &field("F__c"))]);
    assert!(matches!(
        convert(&orphan_field),
        Err(MdapiError::MissingObjectFile { .. })
    ));
    let unknown = tree(&[("staticresources/x.resource", "x")]);
    assert!(matches!(
        convert(&unknown),
        Err(MdapiError::UnsupportedFile { .. })
    ));
    let escape = tree(&[("classes/../A.cls", "x")]);
    assert!(matches!(convert(&escape), Err(MdapiError::UnsafePath(_))));
    assert!(matches!(
        convert(&SourceTree::new()),
        Err(MdapiError::Empty)
    ));
}

#[test]
fn refuses_unknown_object_elements_and_wrong_child_names() {
    let mut t = object_tree();
    t.insert(
        "objects/X_Outbox__c/X_Outbox__c.object-meta.xml".into(),
        format!("<CustomObject {NS}><label>x</label><colour>red</colour></CustomObject>"),
    );
    assert!(matches!(
        convert(&t),
        Err(MdapiError::UnknownElement { element, .. }) if element == "colour"
    ));
    let mut t = object_tree();
    t.insert(
        "objects/X_Outbox__c/fields/Other__c.field-meta.xml".into(),
        field("Status__c"),
    );
    assert!(matches!(
        convert(&t),
        Err(MdapiError::FullNameMismatch { .. })
    ));
}

#[test]
fn adds_a_missing_full_name_to_a_folded_child() {
    let mut t = object_tree();
    t.insert(
        "objects/X_Outbox__c/fields/Status__c.field-meta.xml".into(),
        format!("<CustomField {NS}><label>S</label></CustomField>"),
    );
    let converted = convert(&t).expect("converts");
    assert!(converted.files["objects/X_Outbox__c.object"]
        .contains("<fields>\n        <fullName>Status__c</fullName>\n        <label>S</label>"));
}

#[test]
fn collates_like_locale_compare() {
    let mut names = vec![
        "Status__c",
        "attempts__c",
        "Next_Attempt__c",
        "NextAttempt__c",
        "A1",
    ];
    names.sort_by(|a, b| collate(a, b));
    assert_eq!(
        names,
        [
            "A1",
            "attempts__c",
            "Next_Attempt__c",
            "NextAttempt__c",
            "Status__c"
        ]
    );
}

#[test]
fn secret_record_escapes_and_declares_xsd() {
    let record = SecretRecord::new("P_Settings__mdt", Redacted::new("a<&\"b".into()));
    assert_eq!(record.member(), "P_Settings.Default");
    assert_eq!(record.path(), "customMetadata/P_Settings.Default.md");
    let xml = record.to_xml();
    assert!(xml.contains("xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""));
    assert!(xml.contains("<value xsi:type=\"xsd:string\">a&lt;&amp;&quot;b</value>"));
    assert!(!format!("{record:?}").contains("a<&"));
}

#[test]
fn finds_the_settings_type_and_test_classes() {
    let t = tree(&[
        (
            "objects/P_Settings__mdt/P_Settings__mdt.object-meta.xml",
            "",
        ),
        ("classes/PDispatcherTests.cls", ""),
        ("classes/PDispatcher.cls", ""),
        ("classes/PDispatcherTests.cls-meta.xml", ""),
    ]);
    assert_eq!(settings_object(&t).expect("one"), "P_Settings__mdt");
    assert!(matches!(
        settings_object(&tree(&[("classes/A.cls", "")])),
        Err(MdapiError::NoSettingsType)
    ));
}

#[test]
fn missing_files_are_counted_and_the_list_is_cut_after_five() {
    let err = MdapiError::MissingFiles(vec![
        "classes/PA.cls-meta.xml".to_string(),
        "triggers/PCaseTrigger.trigger".to_string(),
    ]);
    assert_eq!(
        err.to_string(),
        "2 files that sfhooks generates for this tree are missing: classes/PA.cls-meta.xml, \
         triggers/PCaseTrigger.trigger"
    );
    let many: Vec<String> = (0..7).map(|i| format!("f{i}")).collect();
    assert!(missing_files_message(&many).ends_with("f0, f1, f2, f3, f4 and 2 more"));
}

#[test]
fn reads_one_api_version() {
    let meta = |v: &str| {
        format!("<ApexClass {NS}><apiVersion>{v}</apiVersion><status>Active</status></ApexClass>")
    };
    let t = tree(&[("classes/A.cls-meta.xml", &meta("63.0"))]);
    assert_eq!(api_version(&t).expect("one"), "63.0");
    let t = tree(&[
        ("classes/A.cls-meta.xml", &meta("63.0")),
        ("classes/B.cls-meta.xml", &meta("62.0")),
    ]);
    assert!(matches!(api_version(&t), Err(MdapiError::ApiVersion(_))));
    let t = tree(&[("classes/A.cls-meta.xml", &meta("x"))]);
    assert!(matches!(api_version(&t), Err(MdapiError::ApiVersion(_))));
}

#[test]
fn zip_is_deterministic_sorted_and_dated_1980() {
    let mut t = object_tree();
    t.insert(
        "objects/X_Settings__mdt/X_Settings__mdt.object-meta.xml".into(),
        format!("<CustomObject {NS}><label>S</label></CustomObject>"),
    );
    for f in [SECRET_FIELD, BYPASS_CAPTURE_FIELD, BYPASS_DELIVERY_FIELD] {
        t.insert(
            format!("objects/X_Settings__mdt/fields/{f}.field-meta.xml"),
            field(f),
        );
    }
    let record = SecretRecord::new("X_Settings__mdt", Redacted::new("whsec_x".into()));
    let a = build_zip(&t, "63.0", Some(&record), PackageKind::Deploy).expect("zip");
    let b = build_zip(&t, "63.0", Some(&record), PackageKind::Deploy).expect("zip");
    assert_eq!(a, b);
    let mut archive = zip::ZipArchive::new(Cursor::new(a)).expect("readable");
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names.len(), 4);
    for (i, name) in sorted.iter().enumerate() {
        let entry = archive.by_index(i).expect("entry");
        assert_eq!(entry.name(), name);
        assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
        assert_eq!(entry.unix_mode(), Some(0o100644));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
    }
    let uninstall = build_zip(&t, "63.0", None, PackageKind::Uninstall).expect("zip");
    let archive = zip::ZipArchive::new(Cursor::new(uninstall)).expect("readable");
    let names: Vec<&str> = archive.file_names().collect();
    assert_eq!(names, [DESTRUCTIVE_CHANGES_XML, PACKAGE_XML]);
}

#[test]
fn refuses_a_secret_record_the_settings_type_cannot_hold() {
    let mut t = object_tree();
    t.insert(
        "objects/X_Settings__mdt/X_Settings__mdt.object-meta.xml".into(),
        format!("<CustomObject {NS}><label>S</label></CustomObject>"),
    );
    let record = SecretRecord::new("X_Settings__mdt", Redacted::new("whsec_x".into()));
    assert!(matches!(
        build_zip(&t, "63.0", Some(&record), PackageKind::Deploy),
        Err(MdapiError::MissingSettingsField { .. })
    ));
}

/// The hard-coded sequence must be the WSDL's. The WSDL is not in the repository (it may not
/// be committed); it sits beside it in ../shared when the check can run.
#[test]
fn custom_object_sequence_matches_the_wsdl() {
    let wsdl = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/salesforce/metadata-63.0.wsdl");
    let Ok(text) = std::fs::read_to_string(&wsdl) else {
        eprintln!("skipped: WSDL not found at {}", wsdl.display());
        return;
    };
    let start = text
        .find("<xsd:complexType name=\"CustomObject\">")
        .expect("CustomObject in the WSDL");
    let body = &text[start..];
    let end = body.find("</xsd:sequence>").expect("end of sequence");
    let mut from_wsdl = vec!["fullName".to_string()];
    for line in body[..end].lines() {
        if let Some(rest) = line.trim().strip_prefix("<xsd:element name=\"") {
            from_wsdl.push(rest.split('"').next().unwrap_or_default().to_string());
        }
    }
    assert_eq!(from_wsdl, CUSTOM_OBJECT_SEQUENCE);
}
