//! Unit tests of the parent module.
use std::io::Write as _;

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        w.write_all(body.as_bytes()).expect("written");
    }
    w.finish().expect("finished").into_inner()
}

#[test]
fn the_prefix_comes_from_the_settings_type_of_a_deploy_or_an_uninstall_zip() {
    let deploy = zip_of(&[
        ("package.xml", "<Package/>"),
        ("objects/Acme_Settings__mdt.object", "<CustomObject/>"),
    ]);
    assert_eq!(super::prefix_in_zip(&deploy).as_deref(), Some("Acme"));
    let uninstall = zip_of(&[
        ("package.xml", "<Package/>"),
        (
            "destructiveChanges.xml",
            "<Package><types><members>AcmeSweeper</members><name>ApexClass</name></types>\
             <types><members>Acme_Settings__mdt</members><name>CustomObject</name></types></Package>",
        ),
    ]);
    assert_eq!(super::prefix_in_zip(&uninstall).as_deref(), Some("Acme"));
    let foreign = zip_of(&[
        ("package.xml", "<Package/>"),
        ("classes/A.cls", "class A {}"),
    ]);
    assert_eq!(super::prefix_in_zip(&foreign), None);
}
