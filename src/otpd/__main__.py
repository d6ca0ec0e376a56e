import sys

from otpd.cli import main

sys.exit(main())
