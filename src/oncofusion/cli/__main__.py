from oncofusion.cli import main

main()
