#!/usr/bin/env python3
"""Turns docs/openapi.yaml (the one source of truth of the HTTP API's
description) into a C++ source that holds it as compact JSON, so the binary
serves GET /api/v1/openapi.json with no source tree around it.

    embed_openapi.py <openapi.yaml> <out.cpp>

Reads the YAML with PyYAML's safe loader narrowed to what YAML 1.2 and JSON
agree on: only true/false are booleans (not yes/no/on/off) and dates stay
strings, so the JSON says what the YAML file says to a YAML 1.2 reader. Fails,
naming the problem, on a document that is not an OpenAPI 3.1 object.
"""
import json
import re
import sys

import yaml


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's extra booleans and its timestamps."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ('tag:yaml.org,2002:bool', 'tag:yaml.org,2002:timestamp')]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    'tag:yaml.org,2002:bool', re.compile(r'^(?:true|false)$'), list('tf'))

DELIMITER = 'crmsync_openapi'


def main(argv):
    if len(argv) != 3:
        sys.exit('usage: embed_openapi.py <openapi.yaml> <out.cpp>')
    source, target = argv[1], argv[2]
    with open(source, encoding='utf-8') as f:
        try:
            document = yaml.load(f, Loader=Yaml12Loader)
        except yaml.YAMLError as e:
            sys.exit(f'{source}: not valid YAML: {e}')
    if not isinstance(document, dict) or not str(document.get('openapi', '')).startswith('3.1'):
        sys.exit(f'{source}: not an OpenAPI 3.1 document (no "openapi: 3.1.x" at the top)')
    for path in document.get('paths', {}):
        if not isinstance(path, str) or not path.startswith('/'):
            sys.exit(f'{source}: path {path!r} does not start with /')
    text = json.dumps(document, ensure_ascii=False, separators=(',', ':'), allow_nan=False)
    if ')' + DELIMITER + '"' in text:
        sys.exit(f'{source}: contains the raw-string delimiter ){DELIMITER}"')
    cpp = ('// Generated from docs/openapi.yaml by cmake/embed_openapi.py at build time; do not\n'
           '// edit. The HTTP API\'s OpenAPI document as compact JSON (http/openapi.h).\n'
           '#include "http/openapi.h"\n\n'
           'namespace crmsync::engine {\n\n'
           'std::string_view OpenApiJson() {\n'
           f'  static constexpr char kJson[] = R"{DELIMITER}({text}){DELIMITER}";\n'
           '  return std::string_view(kJson, sizeof(kJson) - 1);\n'
           '}\n\n'
           '}  // namespace crmsync::engine\n')
    with open(target, 'w', encoding='utf-8') as f:
        f.write(cpp)


if __name__ == '__main__':
    main(sys.argv)
