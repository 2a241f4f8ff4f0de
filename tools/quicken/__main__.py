from quicken.cli import main

raise SystemExit(main())
