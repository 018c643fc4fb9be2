from specops._cli import main

raise SystemExit(main())
