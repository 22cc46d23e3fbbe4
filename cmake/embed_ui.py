#!/usr/bin/env python3
"""Turns the dashboard's files (the tree's ui/) into a C++ source that holds
their bytes, so the binary serves /ui from memory with no ui/ folder around it
(admin/ui_routes.h; ui.dir still serves a folder from disk instead).

    embed_ui.py <ui dir> <out.cpp> <file>...

Each <file> is a path relative to <ui dir> ('/'-separated, at most one
subfolder deep, as the routes serve). The Content-Type is not stored: the
routes derive it from the name with the one table in ui_routes.cpp, so a file
type the routes do not serve is refused here, naming the file, rather than
embedded and never served. Fails, naming the problem, on a name the routes
would refuse or a missing index.html.
"""
import os
import re
import sys

# What UiContentType() in engine/src/admin/ui_routes.cpp serves; a test
# (admin.ui_routes) checks every embedded file has a type there.
SERVED = ('.html', '.css', '.js', '.json', '.svg', '.png', '.ico', '.txt')
SEGMENT = re.compile(r'^[A-Za-z0-9_.-]+$')


def check_name(name):
    segments = name.split('/')
    if len(segments) > 2:
        return 'deeper than one subfolder (the routes serve /ui/{file} and /ui/{folder}/{file})'
    for segment in segments:
        if not SEGMENT.match(segment) or segment.startswith('.'):
            return 'not a plain name ([A-Za-z0-9_.-], not starting with ".")'
    if not name.lower().endswith(SERVED):
        return 'a file type the dashboard routes do not serve (' + ' '.join(SERVED) + ')'
    return None


def main(argv):
    if len(argv) < 4:
        sys.exit('usage: embed_ui.py <ui dir> <out.cpp> <file>...')
    root, target, names = argv[1], argv[2], sorted(set(argv[3:]))
    if 'index.html' not in names:
        sys.exit(f'{root}: no index.html among the dashboard files')
    entries = []
    for index, name in enumerate(names):
        problem = check_name(name)
        if problem:
            sys.exit(f'{root}/{name}: {problem}')
        with open(os.path.join(root, name), 'rb') as f:
            data = f.read()
        lines = []
        for start in range(0, len(data), 16):
            lines.append('    ' + ','.join(f'0x{b:02x}' for b in data[start:start + 16]) + ',')
        # A trailing 0 so an empty file still makes a valid array; not counted.
        entries.append((name, len(data), f'static const unsigned char kFile{index}[] = {{\n'
                        + '\n'.join(lines) + '\n    0x00};\n'))
    cpp = ['// Generated from ui/ by cmake/embed_ui.py at build time; do not edit. The\n'
           '// dashboard\'s files as bytes, served at /ui when ui.dir is empty\n'
           '// (admin/ui_routes.h).\n'
           '#include "admin/ui_routes.h"\n\n'
           'namespace crmsync::engine {\n'
           'namespace {\n\n']
    cpp += [text + '\n' for _, _, text in entries]
    cpp.append('}  // namespace\n\n'
               'const std::vector<EmbeddedUiFile>& EmbeddedUiFiles() {\n'
               '  static const std::vector<EmbeddedUiFile> kFiles = {\n')
    for index, (name, size, _) in enumerate(entries):
        cpp.append(f'      {{"{name}", std::string_view(reinterpret_cast<const char*>(kFile{index}), '
                   f'{size})}},\n')
    cpp.append('  };\n'
               '  return kFiles;\n'
               '}\n\n'
               '}  // namespace crmsync::engine\n')
    with open(target, 'w', encoding='utf-8') as f:
        f.write(''.join(cpp))


if __name__ == '__main__':
    main(sys.argv)
