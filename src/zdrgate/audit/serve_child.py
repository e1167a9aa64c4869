"""``python -m zdrgate.audit.serve_child PORT``: the serving process the audit's crash
probe starts and kills (:mod:`zdrgate.audit.crash`); its settings arrive on stdin."""

import sys

from zdrgate.audit.crash import run_child

if __name__ == "__main__":
    run_child(int(sys.argv[1]))
