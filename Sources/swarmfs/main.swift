import SwarmCLI
SwarmCommand.main()
