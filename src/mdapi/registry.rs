//! The metadata types sfhooks packages, with their names in source and Metadata API format.
/// The child elements of `CustomObject`, in the order of its `xsd:sequence` in the Metadata API
/// WSDL, version 63.0 (`metadata-63.0.wsdl`, complexType `CustomObject`, after the inherited
/// `fullName`). A unit test compares this list with the WSDL whenever the WSDL is present.
pub const CUSTOM_OBJECT_SEQUENCE: &[&str] = &[
    "fullName",
    "actionOverrides",
    "allowInChatterGroups",
    "articleTypeChannelDisplay",
    "businessProcesses",
    "compactLayoutAssignment",
    "compactLayouts",
    "customHelp",
    "customHelpPage",
    "customSettingsType",
    "deploymentStatus",
    "deprecated",
    "description",
    "enableActivities",
    "enableBulkApi",
    "enableDataTranslation",
    "enableDivisions",
    "enableEnhancedLookup",
    "enableFeeds",
    "enableHistory",
    "enableLicensing",
    "enablePublishStatusTracking",
    "enableReports",
    "enableSearch",
    "enableSharing",
    "enableStreamingApi",
    "eventType",
    "externalDataSource",
    "externalName",
    "externalRepository",
    "externalSharingModel",
    "fieldSets",
    "fields",
    "gender",
    "historyRetentionPolicy",
    "household",
    "indexes",
    "label",
    "listViews",
    "mktDataLakeAttributes",
    "mktDataModelAttributes",
    "nameField",
    "pluralLabel",
    "profileSearchLayouts",
    "publishBehavior",
    "recordTypeTrackFeedHistory",
    "recordTypeTrackHistory",
    "recordTypes",
    "searchLayouts",
    "sharingModel",
    "sharingReasons",
    "sharingRecalculations",
    "startsWith",
    "validationRules",
    "visibility",
    "webLinks",
];

/// A component type that is one file (plus, for Apex, its `-meta.xml`) in both formats.
pub(super) struct FileType {
    /// Folder under the source root, the same in both formats.
    pub(super) folder: &'static str,
    /// Suffix of the file that names the component, in source format.
    pub(super) source_suffix: &'static str,
    /// Suffix of the same file in the zip.
    pub(super) mdapi_suffix: &'static str,
    /// A second file that must sit beside the first (Apex code's `-meta.xml`), same in both formats.
    pub(super) meta_suffix: Option<&'static str>,
    /// The Metadata API type name in package.xml.
    pub(super) type_name: &'static str,
}

/// The types sfhooks generates or may generate, with SDR's names for them in both formats
/// (SDR's `metadataRegistry.json`: `suffix`, `directoryName`, and `-meta.xml` for source format).
pub(super) const FILE_TYPES: &[FileType] = &[
    FileType {
        folder: "classes",
        source_suffix: ".cls",
        mdapi_suffix: ".cls",
        meta_suffix: Some(".cls-meta.xml"),
        type_name: "ApexClass",
    },
    FileType {
        folder: "triggers",
        source_suffix: ".trigger",
        mdapi_suffix: ".trigger",
        meta_suffix: Some(".trigger-meta.xml"),
        type_name: "ApexTrigger",
    },
    FileType {
        folder: "remoteSiteSettings",
        source_suffix: ".remoteSite-meta.xml",
        mdapi_suffix: ".remoteSite",
        meta_suffix: None,
        type_name: "RemoteSiteSetting",
    },
    FileType {
        folder: "tabs",
        source_suffix: ".tab-meta.xml",
        mdapi_suffix: ".tab",
        meta_suffix: None,
        type_name: "CustomTab",
    },
    FileType {
        folder: "permissionsets",
        source_suffix: ".permissionset-meta.xml",
        mdapi_suffix: ".permissionset",
        meta_suffix: None,
        type_name: "PermissionSet",
    },
    FileType {
        folder: "customPermissions",
        source_suffix: ".customPermission-meta.xml",
        mdapi_suffix: ".customPermission",
        meta_suffix: None,
        type_name: "CustomPermission",
    },
    FileType {
        folder: "customMetadata",
        source_suffix: ".md-meta.xml",
        mdapi_suffix: ".md",
        meta_suffix: None,
        type_name: "CustomMetadata",
    },
    FileType {
        folder: "layouts",
        source_suffix: ".layout-meta.xml",
        mdapi_suffix: ".layout",
        meta_suffix: None,
        type_name: "Layout",
    },
    FileType {
        folder: "flexipages",
        source_suffix: ".flexipage-meta.xml",
        mdapi_suffix: ".flexipage",
        meta_suffix: None,
        type_name: "FlexiPage",
    },
    FileType {
        folder: "applications",
        source_suffix: ".app-meta.xml",
        mdapi_suffix: ".app",
        meta_suffix: None,
        type_name: "CustomApplication",
    },
];

/// A decomposed child of an object: `objects/<Object>/<folder>/<Name><suffix>` in source format,
/// an `<element>` inside `objects/<Object>.object` in the zip, `<type_name>` `<Object>.<Name>`
/// in package.xml (SDR lists every child as its own member).
pub(super) struct ChildType {
    pub(super) folder: &'static str,
    pub(super) suffix: &'static str,
    /// The child file's root element, and the type name in package.xml.
    pub(super) type_name: &'static str,
    /// The element of `CustomObject` it becomes.
    pub(super) element: &'static str,
}

pub(super) const CHILD_TYPES: &[ChildType] = &[
    ChildType {
        folder: "businessProcesses",
        suffix: ".businessProcess-meta.xml",
        type_name: "BusinessProcess",
        element: "businessProcesses",
    },
    ChildType {
        folder: "compactLayouts",
        suffix: ".compactLayout-meta.xml",
        type_name: "CompactLayout",
        element: "compactLayouts",
    },
    ChildType {
        folder: "fieldSets",
        suffix: ".fieldSet-meta.xml",
        type_name: "FieldSet",
        element: "fieldSets",
    },
    ChildType {
        folder: "fields",
        suffix: ".field-meta.xml",
        type_name: "CustomField",
        element: "fields",
    },
    ChildType {
        folder: "indexes",
        suffix: ".index-meta.xml",
        type_name: "Index",
        element: "indexes",
    },
    ChildType {
        folder: "listViews",
        suffix: ".listView-meta.xml",
        type_name: "ListView",
        element: "listViews",
    },
    ChildType {
        folder: "recordTypes",
        suffix: ".recordType-meta.xml",
        type_name: "RecordType",
        element: "recordTypes",
    },
    ChildType {
        folder: "sharingReasons",
        suffix: ".sharingReason-meta.xml",
        type_name: "SharingReason",
        element: "sharingReasons",
    },
    ChildType {
        folder: "validationRules",
        suffix: ".validationRule-meta.xml",
        type_name: "ValidationRule",
        element: "validationRules",
    },
    ChildType {
        folder: "webLinks",
        suffix: ".webLink-meta.xml",
        type_name: "WebLink",
        element: "webLinks",
    },
];

pub(super) const OBJECT_SUFFIX: &str = ".object-meta.xml";
pub(super) const OBJECT_TYPE: &str = "CustomObject";

/// The Metadata API type of the component a source file belongs to (`classes/X.cls` and
/// `classes/X.cls-meta.xml` are both `ApexClass`), from the same registry the conversion uses;
/// `None` for a file of a kind sfhooks does not package.
pub fn metadata_type(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["objects", object, file] => {
            (*file == format!("{object}{OBJECT_SUFFIX}")).then_some(OBJECT_TYPE)
        }
        ["objects", _, folder, file] => CHILD_TYPES
            .iter()
            .find(|c| c.folder == *folder && file.ends_with(c.suffix))
            .map(|c| c.type_name),
        [folder, file] => FILE_TYPES
            .iter()
            .find(|t| {
                t.folder == *folder
                    && (file.ends_with(t.source_suffix)
                        || t.meta_suffix.is_some_and(|m| file.ends_with(m)))
            })
            .map(|t| t.type_name),
        _ => None,
    }
}
