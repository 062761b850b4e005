"""``python -m training pretrain|finetune|compare``: the entry torchrun launches."""

import sys

from training.runner import main

if __name__ == "__main__":
    sys.exit(main())
