from local_sagemaker.cli import main

raise SystemExit(main())
