from maze.run import main

raise SystemExit(main())
