from ghostpen.cli import main

raise SystemExit(main())
