// Validates CycloneDX JSON BOMs against the published CycloneDX 1.6 JSON schema, independently of
// hone: the schema files ship in the npm package @cyclonedx/cyclonedx-library (res/schema/:
// bom-1.6.SNAPSHOT.schema.json and the spdx and jsf schemas it references); the validator is
// ajv (draft-07) with ajv-formats (date-time, uri, ...) and ajv-formats-draft2019 (idn-email).
// tests/cyclonedx/package.json pins the versions; scripts/setup.sh installs them.
//
// usage: node validate_bom.js BOM.json...
// Prints "valid N" and exits 0 when every file validates; otherwise names each file and the
// schema errors (instance path, message) and exits 1. Exits 2 when a package is missing.
'use strict';
const fs = require('fs');
const path = require('path');

function need(name) {
    try {
        return require(name);
    } catch (e) {
        console.error(`validate_bom: npm package '${name}' is missing: run ` +
                      `'cd ${__dirname} && npm ci --ignore-scripts' (scripts/setup.sh does)`);
        process.exit(2);
    }
}

const Ajv = need('ajv').default;
const addFormats = need('ajv-formats').default;
const addFormats2019 = need('ajv-formats-draft2019');
const library = path.dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json',
                                              {paths: [__dirname]}));
const schemaDir = path.join(library, 'res', 'schema');
const load = (file) => JSON.parse(fs.readFileSync(path.join(schemaDir, file), 'utf8'));

// The library's copy of the schema refers to its neighbours by these file names (relative to
// the $id http://cyclonedx.org/schema/bom-1.6.schema.json); nothing is fetched.
const ajv = new Ajv({strict: false, allErrors: true, validateFormats: true,
                     loadSchema: (uri) => { throw new Error(`remote schema ${uri}`); }});
addFormats(ajv);
addFormats2019(ajv, {formats: ['idn-email']});
// iri-reference: the uri-reference check after percent-encoding non-ASCII characters (an IRI is
// a URI that may hold them); ajv-formats has no IRI format.
const uriReference = ajv.formats['uri-reference'];
const uriCheck = typeof uriReference === 'function' ? uriReference : uriReference.validate;
ajv.addFormat('iri-reference', (s) => uriCheck(s.replace(/[^\x00-\x7f]/gu, encodeURIComponent)));
ajv.addSchema(load('spdx.SNAPSHOT.schema.json'), 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json');
ajv.addSchema(load('jsf-0.82.SNAPSHOT.schema.json'),
              'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json');
const validate = ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'));

const files = process.argv.slice(2);
if (files.length === 0) {
    console.error('usage: node validate_bom.js BOM.json...');
    process.exit(2);
}
let bad = 0;
for (const file of files) {
    let bom;
    try {
        bom = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
        console.error(`${file}: not JSON: ${e.message}`);
        ++bad;
        continue;
    }
    if (validate(bom)) continue;
    ++bad;
    for (const err of validate.errors)
        console.error(`${file}: ${err.instancePath || '/'} ${err.message} ` +
                      `(${err.schemaPath}${err.params ? ' ' + JSON.stringify(err.params) : ''})`);
}
if (bad) process.exit(1);
console.log(`valid ${files.length}`);
