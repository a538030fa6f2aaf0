#!/usr/bin/env python3
"""Validate metadata XML against the Metadata API schema, extracted from the WSDL at run time.

The WSDL (metadata-63.0.wsdl) is Salesforce's and is never committed: this script reads it from
beside the repository (../shared/salesforce/ by default), takes its <xsd:schema> for the namespace
http://soap.sforce.com/2006/04/metadata, adds a global element for every complex type whose name is
not already a global element (so <CustomObject> validates as tns:CustomObject, <Package> as
tns:Package, and so on), and validates each XML file by its root element.

Inputs may be files, folders (every XML file below them: SFDX source `*-meta.xml` and Metadata API
files such as `X.object`, `package.xml`) and zips (every XML entry). A SOAP 1.1 envelope (a
captured Metadata API request or answer) is checked part by part: each Header and Body child in
the metadata namespace against the WSDL's global element of that name. Files are recognised as XML by
their content (first non-blank character `<`), so Apex sources and READMEs are skipped.

Exit status: 0 when every file is valid (or when the WSDL is absent: it prints "skipped: ..."),
1 when a file is invalid, 2 on a usage error. With --expect-invalid it inverts: 0 only when every
file given is invalid, which is how CI proves the check can fail.

Usage:
  .ci/xml-schema-check.py [--wsdl PATH] [--expect-invalid] PATH...
"""
import argparse
import copy
import io
import os
import subprocess
import sys
import zipfile

METADATA_NS = "http://soap.sforce.com/2006/04/metadata"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
LXML_PIN = "lxml==5.3.0"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_WSDL = os.path.join(REPO_ROOT, "..", "shared", "salesforce", "metadata-63.0.wsdl")
NEVER_XML = (".cls", ".trigger")


def ensure_lxml():
    """Import lxml, installing the pinned version first when it is missing."""
    try:
        from lxml import etree  # noqa: F401
    except ImportError:
        print(f"installing {LXML_PIN}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", LXML_PIN], check=True
        )
    from lxml import etree

    return etree


def build_schema(etree, wsdl_path):
    """The metadata namespace's schema from the WSDL, plus global elements for its types."""
    wsdl = etree.parse(wsdl_path)
    schemas = [
        s
        for s in wsdl.iter(f"{{{XSD_NS}}}schema")
        if s.get("targetNamespace") == METADATA_NS
    ]
    if len(schemas) != 1:
        raise SystemExit(f"error: {wsdl_path} has {len(schemas)} schemas for {METADATA_NS}, expected 1")
    source = schemas[0]
    # A fresh root declares the prefixes the schema's QName attribute values use (type="tns:X"),
    # which the WSDL declared on <definitions>, outside the part we take.
    root = etree.Element(
        f"{{{XSD_NS}}}schema", nsmap={"xsd": XSD_NS, "tns": METADATA_NS}
    )
    for name, value in source.attrib.items():
        root.set(name, value)
    for child in source:
        root.append(copy.deepcopy(child))
    global_elements = {e.get("name") for e in root.findall(f"{{{XSD_NS}}}element")}
    types = [t.get("name") for t in root.findall(f"{{{XSD_NS}}}complexType")]
    for name in types:
        if name not in global_elements:
            element = etree.SubElement(root, f"{{{XSD_NS}}}element")
            element.set("name", name)
            element.set("type", f"tns:{name}")
    return etree.XMLSchema(root), set(types)


def looks_like_xml(data):
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def collect(paths):
    """(label, bytes) for every XML document under the given paths."""
    for path in paths:
        if os.path.isdir(path):
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield from collect_file(os.path.join(folder, name))
        elif os.path.isfile(path):
            yield from collect_file(path)
        else:
            raise SystemExit(f"error: {path}: no such file or folder")


def collect_file(path):
    if path.endswith(NEVER_XML):
        return
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if info.is_dir() or info.filename.endswith(NEVER_XML):
                    continue
                data = archive.read(info)
                if looks_like_xml(data):
                    yield f"{path}!{info.filename}", data
        return
    with open(path, "rb") as handle:
        data = handle.read()
    if looks_like_xml(data):
        yield path, data


def validate_soap(etree, schema, label, envelope):
    """Problems of a SOAP 1.1 message: each Header and Body child in the metadata namespace is
    validated as the WSDL's global element of that name (SessionHeader, deploy,
    checkDeployStatusResponse, ...); a Fault must carry faultcode then faultstring."""
    problems = []
    parts = [c for c in envelope if isinstance(c.tag, str)]
    names = [etree.QName(c).localname for c in parts]
    if names not in (["Body"], ["Header", "Body"]) or any(
        etree.QName(c).namespace != SOAPENV_NS for c in parts
    ):
        return [f"{label}:{envelope.sourceline}: a SOAP envelope holds an optional Header, then a Body; found {names}"]
    body = parts[-1]
    payload = [c for c in body if isinstance(c.tag, str)]
    if len(payload) != 1:
        return [f"{label}:{body.sourceline}: the SOAP Body holds {len(payload)} elements, expected 1"]
    header = parts[0] if len(parts) == 2 else None
    for element in list(header if header is not None else []) + payload:
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        if qname == etree.QName(SOAPENV_NS, "Fault"):
            fields = [etree.QName(c).localname for c in element if isinstance(c.tag, str)]
            if fields[:2] != ["faultcode", "faultstring"]:
                problems.append(f"{label}:{element.sourceline}: a Fault starts with faultcode, faultstring; found {fields}")
            continue
        if qname.namespace != METADATA_NS:
            problems.append(f"{label}:{element.sourceline}: <{element.tag}> is not in the namespace {METADATA_NS}")
            continue
        doc = etree.ElementTree(copy.deepcopy(element))
        if not schema.validate(doc):
            problems.extend(f"{label}:{element.sourceline}+{e.line - 1}: {e.message}" for e in schema.error_log)
    return problems


def validate(etree, schema, types, label, data):
    """A list of 'label:line: message' problems; empty when the document is valid."""
    try:
        doc = etree.parse(io.BytesIO(data))
    except etree.XMLSyntaxError as e:
        return [f"{label}:{e.lineno}: not well-formed: {e.msg}"]
    root = doc.getroot()
    qname = etree.QName(root)
    if qname == etree.QName(SOAPENV_NS, "Envelope"):
        return validate_soap(etree, schema, label, root)
    if qname.namespace != METADATA_NS:
        return [f"{label}:{root.sourceline}: root <{root.tag}> is not in the namespace {METADATA_NS}"]
    if qname.localname not in types:
        return [f"{label}:{root.sourceline}: no Metadata API type named {qname.localname}"]
    if schema.validate(doc):
        return []
    return [f"{label}:{e.line}: {e.message}" for e in schema.error_log]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="files, folders or zips to validate")
    parser.add_argument("--wsdl", default=DEFAULT_WSDL, help="the Metadata API WSDL")
    parser.add_argument(
        "--expect-invalid",
        action="store_true",
        help="succeed only if every XML file given is invalid (proves the check can fail)",
    )
    args = parser.parse_args()

    wsdl = os.path.normpath(args.wsdl)
    if not os.path.isfile(wsdl):
        print(f"skipped: WSDL not found at {wsdl}")
        return 0
    etree = ensure_lxml()
    schema, types = build_schema(etree, wsdl)

    documents = list(collect(args.paths))
    if not documents:
        print(f"error: no XML files in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    invalid = 0
    unexpected = 0
    for label, data in documents:
        problems = validate(etree, schema, types, label, data)
        if problems:
            invalid += 1
            if args.expect_invalid:
                print(f"invalid as expected: {problems[0]}")
            else:
                for problem in problems:
                    print(problem)
        elif args.expect_invalid:
            unexpected += 1
            print(f"{label}: valid, but it was expected to be invalid")

    print(
        f"{len(documents)} XML files checked against the Metadata API schema in {wsdl}: "
        f"{len(documents) - invalid} valid, {invalid} invalid"
    )
    if args.expect_invalid:
        return 1 if unexpected else 0
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
