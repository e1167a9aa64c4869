from zdrgate.cli import main

main()
